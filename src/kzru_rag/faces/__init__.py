"""The faces over the Python API: the command line (`cli`) and the browser UI (`ui`)."""
