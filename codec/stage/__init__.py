"""Detail stages: the layered codec's detail generator on another codec's decode (GC or SC), with
the same `--realism` knob; trained with that codec frozen, shipped as their own weights file."""
