"""Tools on written data: describe (``omezarr info``), verify, render, the viewer, sample images."""
