"""Project tools that work on synthesized stages: the stage plan and the docs."""
