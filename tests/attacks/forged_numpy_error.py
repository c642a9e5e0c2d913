# Send the first reply itself, claiming that NumPy is missing (the reply
# pipe's number is in the entry point's arguments): once, this stopped the
# whole class's grading. It must only cost this submission its points.
import json
import os
import struct
import sys

_config = json.loads(sys.argv[1])
_body = json.dumps({"imported": False,
                    "numpy_error": "forged: reinstall NumPy"}).encode()
os.write(_config["replies"], struct.pack(">I", len(_body)) + _body)
os._exit(0)
