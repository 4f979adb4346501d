"""One stack per layer of the staged architecture; stacks only wire constructs."""
