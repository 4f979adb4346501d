"""Architecture pages, diagrams and cost estimates generated from each stage's synthesized templates.

`python -m tools.docs` (or `make docs`) writes `docs/`; nothing in it is kept by hand."""
