"""The app's own files (`app-data/` beside the index folder), among them the conversations kept for a logged-in
user, so that they follow the login from browser to browser.

Without a login the conversations live in the browser alone (`gr.BrowserState`). With one, each change of them is
also written to `app-data/conversations/<sha256 of the user name>.json` (readable by the app's owner alone, replaced
in one rename), and a page the user opens, in any browser, starts from that copy (`UsersConversations`). A user
without a copy yet starts from what the browser holds (the conversations had before the login was set).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import gradio as gr

from kzru_rag.library import Library

log = logging.getLogger(__name__)


def data_folder(library: Library) -> Path:
    """The app's own files (the browser key, the ratings, the users' conversations): `app-data/` beside the index
    folder."""
    return Path(library.index_path).resolve().parent / "app-data"


def user_of(request: gr.Request | None) -> str | None:
    """The logged-in user of `request`; None without a login."""
    return getattr(request, "username", None) or None


class UsersConversations:
    """The conversations kept in `folder` for each logged-in user (nothing without a login).

    A page opened by a user starts from their copy (`opened`); each later change in it replaces the copy
    (`changed`). A page reports its browser's own value once before it is opened, and may again after: neither
    is a change, so a stale browser never overwrites the copy."""

    PAGES = 10_000
    """Pages remembered (the newest): a page older than this keeps its conversations in its browser alone."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._pages: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def opened(self, state: Any, request: gr.Request | None) -> Any:
        """What the page of `request` starts from: its user's copy, else `state` (the browser's)."""
        user = user_of(request)
        if user is None or request is None:
            return state
        kept = self._read(user)
        with self._lock:
            self._pages[request.session_hash or ""] = state if kept is not None and kept != state else None
            while len(self._pages) > self.PAGES:
                self._pages.popitem(last=False)
        return state if kept is None else kept

    def changed(self, state: Any, request: gr.Request) -> None:
        """A page's conversations changed: kept for its user, unless it is the browser's own value."""
        user = user_of(request)
        if user is None:
            return
        with self._lock:
            page = request.session_hash or ""
            if page not in self._pages or state == self._pages[page]:
                return
            self._pages[page] = None
            self._write(user, state)

    def _read(self, user: str) -> Any:
        path = self._path(user)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            log.warning("the conversations kept at %s cannot be read (%s); the browser's are shown", path, err)
            return None

    def _write(self, user: str, state: Any) -> None:
        """`state` as `user`'s copy, replacing the one before in one rename."""
        path = self._path(user)
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".kept-", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:  # mkstemp's file is the owner's alone
                json.dump(state, file, ensure_ascii=False)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _path(self, user: str) -> Path:
        return self.folder / "conversations" / f"{hashlib.sha256(user.encode('utf-8')).hexdigest()[:32]}.json"
