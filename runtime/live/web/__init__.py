"""The browser view of a live run: an HTTP server (MJPEG stream + JSON state) and its page (``index.html``)."""
