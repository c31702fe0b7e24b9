"""`python -m flan_jax.train --gin_file=... --gin.MODEL_DIR=...` (see flan_jax/train/main.py)."""
import sys

from flan_jax.train.main import main

if __name__ == "__main__":
    sys.exit(main())
