"""The page's theme, style sheet and scripts."""

from __future__ import annotations

import json

import gradio as gr

from kzru_rag.ingest.documents import SUPPORTED_SUFFIXES
from kzru_rag.library import MAX_UPLOAD_BYTES

# Colours with WCAG AA contrast (4.5:1) for button text and secondary text in both themes (axe-core checks them in
# tests/test_browser_everyday.py): Gradio's defaults put white on blue-500 (3.7:1) and slate-400 on white (2.6:1).
THEME = gr.themes.Default(
    primary_hue="blue",
    neutral_hue="slate",
    font=["system-ui", "Segoe UI", "Roboto", "Noto Sans", "Helvetica Neue", "Arial", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
).set(
    button_primary_background_fill="*primary_700",
    button_primary_background_fill_dark="*primary_700",
    button_primary_background_fill_hover="*primary_800",
    button_primary_background_fill_hover_dark="*primary_800",
    button_cancel_background_fill="#b91c1c",
    button_cancel_background_fill_dark="#b91c1c",
    button_cancel_background_fill_hover="#991b1b",
    button_cancel_background_fill_hover_dark="#991b1b",
    body_text_color_subdued="*neutral_600",
    body_text_color_subdued_dark="*neutral_300",
)

# Evidence is as readable as the answer: full opacity, text of at least 13 px, body-text colours
# (contrast of 4.5:1 or more in the light and the dark theme; tests/test_browser.py checks it).
CSS = """
.kz-cite { color: var(--link-text-color); font-weight: 700; font-size: 0.85em; margin-left: 1px; cursor: pointer; }
.kz-cite:hover, .kz-cite:focus { text-decoration: underline; }
.kz-notice {
  background: #fff4e5; color: #7c2d12; border-left: 4px solid #f59e0b; padding: 6px 10px; border-radius: 4px;
  font-size: 14px;
}
.kz-query { color: var(--body-text-color); font-size: 14px; font-style: italic; }
.kz-confidence { color: var(--body-text-color); font-size: 14px; }
.kz-uncertain { color: #92400e; }
.dark .kz-uncertain { color: #fbbf24; }
#kz-chat .message-row, #kz-chat .message-row * { opacity: 1 !important; }
#kz-chat .thought-group .title, #kz-chat .thought-group .title * {
  font-size: 14px !important; color: var(--body-text-color) !important;
}
#kz-chat .kz-source span, #kz-chat .kz-source mark, .kz-doc mark { font-size: inherit !important; }
.kz-source { border-left: 3px solid var(--link-text-color); padding: 2px 10px; margin: 4px 0 10px; font-size: 15px; }
.kz-source-head { font-size: 14px; color: var(--body-text-color); margin-bottom: 2px; }
.kz-num { font-weight: 700; color: var(--link-text-color); }
.kz-quote { line-height: 1.5; color: var(--body-text-color); font-size: 15px; }
.kz-context summary { cursor: pointer; color: var(--link-text-color); font-size: 14px; margin-top: 4px; }
.kz-context-text { font-size: 15px; line-height: 1.5; color: var(--body-text-color); padding: 6px 0; }
mark.kz-answer { background: #fde68a; color: #1f2937; padding: 0 2px; border-radius: 3px; }
mark.kz-passage { background: #dbeafe; color: #1f2937; border-radius: 3px; }
.kz-doc { white-space: pre-wrap; max-height: 620px; overflow-y: auto; position: relative; line-height: 1.6;
          padding: 12px 14px; border: 1px solid var(--border-color-primary); border-radius: 8px; font-size: 15px; }
.kz-doc-meta { color: var(--body-text-color); font-size: 14px; margin: 0 0 6px 2px; }
.kz-doc-empty { color: var(--body-text-color); padding: 24px 8px; }
#kz-mode { font-size: 14px; }
.kz-fresh { color: #15803d; }
.dark .kz-fresh { color: #4ade80; }
.kz-stale { color: #b45309; }
.dark .kz-stale { color: #fbbf24; }
.kz-table { width: 100%; border-collapse: collapse; margin: 8px 0; }
.kz-table th, .kz-table td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--border-color-primary); }
.kz-hint { color: var(--body-text-color); font-size: 14px; }
#kz-rebuild-log { min-height: 64px; }
/* The chosen tab's name: the link colour (blue-600, 5.2:1 on white) instead of the accent (blue-500, 3.7:1). */
.tab-container button[role=tab].selected { color: var(--link-text-color); }
/* The rebuild's bar: its share of the work, or (no share yet) a band sliding along it. */
#kz-rebuild-log .kz-progress { appearance: none; width: 100%; height: 10px; border: 0; border-radius: 5px;
  background: var(--border-color-primary); overflow: hidden; }
#kz-rebuild-log .kz-progress::-webkit-progress-bar { background: transparent; }
#kz-rebuild-log .kz-progress::-webkit-progress-value { background: var(--button-primary-background-fill); }
#kz-rebuild-log .kz-progress::-moz-progress-bar { background: var(--button-primary-background-fill); }
#kz-rebuild-log .kz-progress:not([value]) { background: linear-gradient(90deg, var(--border-color-primary) 45%,
  var(--button-primary-background-fill) 45% 55%, var(--border-color-primary) 55%) 0 0 / 300% 100%;
  animation: kz-sliding 1.6s linear infinite; }
@keyframes kz-sliding { from { background-position: 100% 0; } to { background-position: 0 0; } }
@media (prefers-reduced-motion: reduce) { #kz-rebuild-log .kz-progress:not([value]) { animation: none; } }
#kz-chat .title[role=button] .arrow button { pointer-events: none; }
/* The chat's ↓ button sits in a gutter on the right, not over the messages' text (in the middle, at the bottom). */
#kz-chat .scroll-down-button-container { left: auto; right: 4px; transform: none; }
#kz-chat .bubble-wrap { padding-right: 46px; }
/* On a phone the question box and the document filter take a whole line each (the placeholder is not clipped,
   chosen documents have room), their buttons the next; messages
   take the chat's width up to the ↓ button's gutter (Gradio leaves 60 px beside each, a third of a phone's width). */
@media (max-width: 640px) {
  #kz-question, .form:has(> #kz-within) { flex: 1 1 100% !important; min-width: 100% !important; }
  #kz-chat .message-row.bubble { max-width: 100%; margin-left: 0; margin-right: 0; }
  /* The documents table (four columns, wider than a phone) becomes one block a document: its name, then the rest. */
  .kz-table thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); }
  .kz-table, .kz-table tbody, .kz-table tr { display: block; border: 0 !important; }
  .kz-table tr { padding: 6px 0; border-bottom: 1px solid var(--border-color-primary) !important; }
  .kz-table td { display: inline; padding: 0 !important; border: 0 !important; }
  .kz-table td:first-child { display: block; font-weight: 600; overflow-wrap: anywhere; }
  .kz-table td:nth-child(3)::before { content: " · символов: "; }
  .kz-table td:nth-child(4)::before { content: " · "; }
  .kz-status code { overflow-wrap: anywhere; }
}
.kz-doc:focus-visible { outline: 2px solid var(--link-text-color); }
"""

# Keeps the cited passage in view inside the document panel (without scrolling the page).
SCROLL_TO_CITED = """
const show = () => {
  const box = element.querySelector('.kz-doc');
  const mark = element.querySelector('#kz-cited');
  if (box && mark) box.scrollTop = Math.max(mark.offsetTop - box.clientHeight / 3, 0);
};
watch('value', show);
show();
"""

# Gradio's own strings (upload area, chat buttons, toasts) in Russian for every browser language: the
# interface is Russian, and Gradio would otherwise pick its strings by the browser's language.
_GRADIO_RU = {
    "upload_text.click_to_upload": "Нажмите, чтобы выбрать",
    "upload_text.drop_file": "Перетащите файлы сюда",
    "upload_text.paste_clipboard": "Вставить из буфера обмена",
    "chatbot.clear": "Очистить чат",
    "chatbot.copy_message": "Копировать ответ",
    "chatbot.copied_message": "Скопировано",
    "chatbot.retry": "Повторить",
    "chatbot.undo": "Отменить",
    "chatbot.edit": "Редактировать",
    "chatbot.submit": "Отправить",
    "chatbot.cancel": "Отмена",
    "chatbot.like": "Хороший ответ",
    "chatbot.dislike": "Плохой ответ",
    "common.clear": "Очистить",
    "common.download": "Скачать",
    "common.edit": "Редактировать",
    "common.empty": "Пусто",
    "common.complete": "Готово",
    "common.error": "Ошибка",
    "common.loading": "Загрузка",
    "common.or": "или",
    "common.progress": "Выполнение",
    "common.remove": "Удалить",
    "common.settings": "Настройки",
    "common.submit": "Отправить",
    "common.undo": "Отменить",
    "common.language": "Язык",
    "common.display_theme": "Тема оформления",
    "file.uploading": "Загрузка…",
    "status.queue_position": "Место в очереди",
    "errors.use_via_api": "Использовать через API",
    "errors.use_via_api_or_mcp": "Использовать через API или MCP",
}
I18N = gr.I18n(
    **{
        locale: _GRADIO_RU
        for locale in ("en", "ru", "kk", "de", "fr", "es", "it", "pt", "tr", "uk", "pl", "zh", "ja", "ko")
    }
)

_LIMITS = json.dumps({"bytes": MAX_UPLOAD_BYTES, "suffixes": sorted(SUPPORTED_SUFFIXES)})

# On load: [n] markers open their source (through the hidden #kz-open box); files that are too big or of
# another type are kept from Gradio's upload (whose messages are English) and reported through #kz-refused.
PAGE_JS = (
    "() => {\nconst LIMITS = "
    + _LIMITS
    + """;
const send = (id, value) => {
  const box = document.querySelector(`#${id} textarea, #${id} input`);
  box.value = value;
  box.dispatchEvent(new Event('input', {bubbles: true}));
};
const openMarker = (marker) => {  // class kz-cite-T-N: source N of answer T
  const [turn, number] = [...marker.classList].find((c) => /^kz-cite-\\d+-\\d+$/.test(c)).split('-').slice(2);
  send('kz-open', `${turn}:${number}:${Date.now()}`);
  document.getElementById('kz-document').scrollIntoView({block: 'nearest', behavior: 'smooth'});
};
document.addEventListener('click', (event) => {
  const marker = event.target.closest('.kz-cite[class*=kz-cite-]');
  if (marker) openMarker(marker);
});
// A question waits for an answer still ending (trigger_mode "always_last"): the second click of a double click would
// then ask again with the emptied question box; it is dropped here.
document.addEventListener('click', (event) => {
  if (event.detail > 1 && event.target.closest('#kz-ask, #kz-again')) event.stopImmediatePropagation();
}, true);
// Likewise an Enter within a second of the one that sent the question (by then the box may be emptied or not yet);
// an Enter in an empty box at any other time still gets the «Введите вопрос» message.
let sentAt = 0;
document.addEventListener('keydown', (event) => {
  const box = event.target.closest && event.target.closest('#kz-question textarea');
  if (!box || event.key !== 'Enter' || event.shiftKey) return;
  if (Date.now() - sentAt < 1000) {
    event.preventDefault();
    event.stopImmediatePropagation();
  } else if (box.value.trim()) {
    sentAt = Date.now();
  }
}, true);
// Gradio's copy button copies a message's HTML source; the answer is copied as the text the reader sees.
document.addEventListener('click', (event) => {
  const button = event.target.closest('#kz-chat .message-buttons button[aria-label]');
  if (!button || !/опир|copy/i.test(button.getAttribute('aria-label'))) return;
  const row = button.closest('.message-buttons').previousElementSibling;
  if (!row || !row.classList.contains('message-row')) return;
  const text = [...row.querySelectorAll('[data-testid=bot]')]
    .map((message) => message.innerText.replace(/^Показать в тексте документа$/gm, '').trim()).join('\\n\\n');
  setTimeout(() => navigator.clipboard.writeText(text), 100);
}, true);
// Gradio's own English bits: toast titles, the accessible names of its buttons, regions and images (the chat's
// «Scroll down», a toast's «Close», the upload area…), and each message's accessible name (role + "'s message: " +
// the message's HTML source) become Russian, the name the text a reader sees.
const RUSSIAN = {
  'Warning': 'Предупреждение', 'Error': 'Ошибка', 'Info': 'Сообщение', 'Scroll down': 'Прокрутить вниз',
  'Close': 'Закрыть', 'Click to upload or drop files': 'Выберите файлы или перетащите их сюда',
  'File upload': 'Загрузка файлов', 'Gradio footer navigation': 'Ссылки внизу страницы', 'More tabs': 'Другие вкладки',
  'chatbot conversation': 'Диалог', 'Stop Recording': 'Остановить запись', 'logo': 'Логотип',
};
const russify = (root) => {
  for (const title of root.querySelectorAll('.toast-title')) {
    if (RUSSIAN[title.textContent.trim()]) title.textContent = RUSSIAN[title.textContent.trim()];
  }
  // A toast's header is a button (it expands a long message) holding the close button: a nested control that
  // assistive technology cannot reach; the close button stays, the header is plain.
  for (const header of root.querySelectorAll('.toast-header[role=button]')) {
    header.removeAttribute('role');
    header.removeAttribute('tabindex');
  }
  // What became of the uploaded files is said to screen readers as it appears (a refusal was silent to them).
  for (const log of root.querySelectorAll('#kz-upload-log:not([role])')) log.setAttribute('role', 'status');
  // The sources block's title is a button already: its arrow icon is decoration, not a second, unnamed button.
  for (const arrow of root.querySelectorAll('#kz-chat .title[role=button] .arrow button:not([disabled])')) {
    arrow.setAttribute('aria-hidden', 'true');
    arrow.setAttribute('tabindex', '-1');
    arrow.disabled = true;
  }
  for (const named of root.querySelectorAll('img[alt], [title]')) {
    for (const name of ['alt', 'title']) {
      const value = named.getAttribute(name);
      if (RUSSIAN[value]) named.setAttribute(name, RUSSIAN[value]);
    }
  }
  for (const named of root.querySelectorAll('[aria-label]')) {
    const label = named.getAttribute('aria-label');
    if (RUSSIAN[label]) named.setAttribute('aria-label', RUSSIAN[label]);
    const message = /^(user|bot|assistant)'s message: /.exec(label || '');
    if (message) {
      const who = message[1] === 'user' ? 'Вопрос' : 'Ответ';
      const text = named.innerText.replace(/\\s+/g, ' ').trim().slice(0, 300);
      named.setAttribute('aria-label', `${who}: ${text}`);
    }
  }
};
new MutationObserver(() => russify(document.body)).observe(document.body, {
  subtree: true, childList: true, attributes: true, attributeFilter: ['aria-label', 'alt', 'title'],
});
russify(document.body);
document.addEventListener('keydown', (event) => {
  const marker = event.target.closest && event.target.closest('.kz-cite[class*=kz-cite-]');
  if (marker && (event.key === 'Enter' || event.key === ' ')) { event.preventDefault(); openMarker(marker); }
});
const split = (files) => {
  const kept = new DataTransfer(), refused = [];
  for (const file of files) {
    const dot = file.name.lastIndexOf('.');
    const suffix = dot > 0 ? file.name.slice(dot).toLowerCase() : '';
    if (LIMITS.suffixes.includes(suffix) && file.size <= LIMITS.bytes) kept.items.add(file);
    else refused.push({name: file.name, size: file.size});
  }
  return [kept, refused];
};
const redispatched = new WeakSet();
const guard = (event) => {
  if (redispatched.has(event) || !event.target.closest || !event.target.closest('#kz-upload')) return;
  const files = event.type === 'drop' ? event.dataTransfer && event.dataTransfer.files : event.target.files;
  if (!files || !files.length) return;
  const [kept, refused] = split(files);
  send('kz-refused', JSON.stringify({batch: Date.now(), files: refused}));
  if (!refused.length) return;
  if (event.type === 'change') {
    event.target.files = kept.files;
    if (!kept.files.length) event.stopImmediatePropagation();
    return;
  }
  event.preventDefault();
  event.stopImmediatePropagation();
  if (kept.files.length) {
    const again = new DragEvent('drop', {dataTransfer: kept, bubbles: true, cancelable: true});
    redispatched.add(again);
    event.target.dispatchEvent(again);
  }
};
window.addEventListener('change', guard, true);
window.addEventListener('drop', guard, true);
}"""
)
