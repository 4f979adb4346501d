"""The staged social-posting API that the scaling architecture runs."""
