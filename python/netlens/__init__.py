"""netlens: the netlens engine (Rust) from Python.

    import netlens
    model = netlens.Model()                      # the CLI's default SqueezeNet 1.1, or Model("model.onnx")
    model.classify("cat.png")                    # [(285, "Egyptian cat", 0.93), ...]
    out = model.run("ig", "cat.png", steps=64)   # {"panels": {...numpy arrays...}, "report": {...}}
    row = model.batch_row("cat.png", "saliency", "cat.png")   # one row of `netlens batch`'s table

Images are H×W×3 uint8 numpy arrays, paths, or encoded bytes. Methods and their settings are the registry's
(`netlens.schema()`), checked by the same Rust code as the CLI; the GIL is released while the engine works.
See docs/scale.md.
"""

from ._netlens import Model, __version__, schema, set_threads, write_table

__all__ = ["Model", "schema", "set_threads", "write_table", "__version__"]
