"""Detail stages: the layered codec's detail generator on another codec's decode (GC), with the
same `--realism` knob; trained with the codec frozen, shipped as their own weights file. SC files
take the same knob through their texture branch (codec/sc_codec.py, DEFAULT_REALISM)."""
