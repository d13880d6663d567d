"""The embedded demo: a synthetic face model, a software renderer, native-format writers and the
`fuse demo` orchestration that runs the whole pipeline offline (docs/demo.md)."""
