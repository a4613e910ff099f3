"""The musicrec Gradio page: interactive context playlists over the materialized artifacts.

Gradio reads these at import time, so they are set here, before any module imports gradio:
no usage analytics and no Hugging Face Hub calls (the page must work offline).
"""

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"
