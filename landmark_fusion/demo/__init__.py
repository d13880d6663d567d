"""The embedded demo's fusion part: a synthetic face model, a software renderer, native-format writers
and the steps that render, write, build and inspect the mini-databases offline (docs/demo.md); the
training that follows is composed with it at the top of the project (cli.py)."""
