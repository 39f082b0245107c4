"""A warning before a large folder upload starts: browsers send every file separately, and slowly.

Streamlit's folder uploader starts sending as soon as the user picks a folder. A script in the
page looks at the picked files first (a capturing 'change' listener runs before the uploader's
own), counts them and their size, and above the limits asks whether to go on; "Cancel" drops
the selection, so nothing is sent. Measured limits are in the README.
"""

from __future__ import annotations

import streamlit as st

LARGE_FILES = 500
LARGE_MB = 300

_SCRIPT = """
<script>
(function () {
  const top = window.parent;
  if (top.__gsUploadGuard) return;
  top.__gsUploadGuard = true;
  top.document.addEventListener("change", function (e) {
    const input = e.target;
    if (!input || input.type !== "file" || !input.hasAttribute("webkitdirectory") || !input.files) return;
    const n = input.files.length;
    let bytes = 0;
    for (const f of input.files) bytes += f.size;
    const mb = bytes / 1048576;
    if (n <= %(files)d && mb <= %(mb)d) return;
    const ok = top.confirm("This folder holds " + n.toLocaleString() + " files (" + Math.round(mb).toLocaleString() +
      " MB). A browser uploads a large folder slowly, one file at a time, and may run short of memory.\\n\\n" +
      "Faster: upload it as one .zip, or (running locally) type its path on the Local folder tab.\\n\\n" +
      "Upload this folder anyway?");
    if (!ok) {
      e.stopImmediatePropagation();
      e.preventDefault();
      input.value = "";
    }
  }, true);
})();
</script>
"""


def guard_large_folder_uploads() -> None:
    """Install the check once per browser tab (it is invisible)."""
    st.iframe(_SCRIPT % {"files": LARGE_FILES, "mb": LARGE_MB}, height=1)
