/*
 * Parley web chat widget: one tag puts it on any page.
 *
 *   <script src="https://chat.example.com/webchat/widget.js" data-pack="retail" defer></script>
 *
 * Options (data- attributes of the tag): data-pack (default: the server's default pack),
 * data-title (the panel's heading; default: the assistant's name from the server),
 * data-open="true" (open the panel at load).
 *
 * The server is found from this script's own src, and the styles (widget.css, beside this file)
 * are loaded into a shadow root so the site's CSS and the widget's never mix. The sender id is
 * kept in localStorage (one per server and pack) so a reload continues the conversation; what is
 * shown after a reload is the server's history, not a copy kept in the browser.
 * Protocol: see engine/server/webchat.py. No dependencies.
 */
(function () {
  "use strict";

  var script = document.currentScript ||
    document.querySelector('script[src*="/webchat/widget.js"]:not([data-parley-mounted])');
  if (!script || script.hasAttribute("data-parley-mounted")) return;
  script.setAttribute("data-parley-mounted", "");

  var BASE = new URL(".", script.src);          // e.g. https://chat.example.com/webchat/
  var PACK = script.getAttribute("data-pack") || "";
  var TITLE = script.getAttribute("data-title") || "";
  var OPEN_AT_LOAD = script.getAttribute("data-open") === "true";
  var KEY = "parley:" + BASE.origin + ":" + (PACK || "default");
  var MAX_TEXT = 1000;
  var MAX_SEND_ATTEMPTS = 4;                    // a busy conversation is tried this often
  var RECONNECT_MAX_MS = 15000;
  // What the customer is told when a message is refused (the server's message is for developers).
  var FAILURES = {
    text_too_long: "the message is too long",
    empty_text: "the message is empty",
    other: "something went wrong"
  };
  // Closed with these codes, the same connection can never succeed.
  var CLOSE_INVALID_SENDER = 4400;
  var CLOSE_UNKNOWN_PACK = 4404;

  // -- storage (a browser may refuse it: then the conversation lasts as long as the page) ----
  function load(storage, key) {
    try { return window[storage].getItem(key); } catch (e) { return null; }
  }
  function save(storage, key, value) {
    try {
      if (value === null) window[storage].removeItem(key);
      else window[storage].setItem(key, value);
    } catch (e) { /* private mode or full: keep going without */ }
  }

  function randomId(bytes) {
    var values = new Uint8Array(bytes);
    window.crypto.getRandomValues(values);
    return Array.prototype.map.call(values, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  var sender = load("localStorage", KEY + ":sender");
  if (!sender || !/^[A-Za-z0-9_.:-]{1,128}$/.test(sender)) {
    sender = randomId(16);
    save("localStorage", KEY + ":sender", sender);
  }

  // -- DOM -------------------------------------------------------------------------------------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === false || value === null || value === undefined) return;
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else node.setAttribute(name, value === true ? "" : value);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  var host = el("div", { className: "parley-webchat" });
  var root = host.attachShadow({ mode: "open" });
  var sheet = el("link", { rel: "stylesheet", href: new URL("widget.css", BASE).href });
  var frame = el("div", { className: "pw", style: "display:none" });
  // Shown once the styles are in (or failed), so the page never flashes an unstyled panel.
  sheet.addEventListener("load", function () { frame.style.display = ""; });
  sheet.addEventListener("error", function () { frame.style.display = ""; });

  var launcher = el("button", {
    type: "button", className: "pw-launcher", "aria-label": "Open the chat",
    "aria-expanded": "false", "aria-controls": "pw-panel"
  });
  launcher.innerHTML = '<svg viewBox="0 0 24 24" width="28" height="28" aria-hidden="true" focusable="false">' +
    '<path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg>';

  var heading = el("h2", { id: "pw-title", className: "pw-title", text: TITLE || "Chat" });
  var closeButton = el("button", { type: "button", className: "pw-close", "aria-label": "Close the chat", text: "\u00d7" });
  var status = el("div", { className: "pw-status", role: "status", "aria-live": "polite", hidden: true });
  var log = el("div", { className: "pw-log", role: "log", "aria-live": "polite", "aria-label": "Conversation", tabindex: "0" });
  var typing = el("div", { className: "pw-typing", role: "status", "aria-label": "The assistant is typing", hidden: true },
    [el("span"), el("span"), el("span")]);
  var input = el("textarea", {
    className: "pw-input", rows: "1", maxlength: String(MAX_TEXT), "aria-label": "Your message",
    placeholder: "Type your message\u2026"
  });
  var sendButton = el("button", { type: "submit", className: "pw-send", text: "Send" });
  var form = el("form", { className: "pw-form" }, [input, sendButton]);
  var panel = el("section", {
    id: "pw-panel", className: "pw-panel", role: "dialog", "aria-modal": "false",
    "aria-labelledby": "pw-title", hidden: true
  }, [
    el("header", { className: "pw-header" }, [heading, closeButton]),
    status,
    log,
    typing,
    form
  ]);
  frame.appendChild(panel);
  frame.appendChild(launcher);
  root.appendChild(sheet);
  root.appendChild(frame);

  // -- rendering ----------------------------------------------------------------------------------
  var URL_IN_TEXT = /\bhttps?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]']/g;

  function textWithLinks(text) {
    var fragment = document.createDocumentFragment();
    var last = 0;
    String(text).replace(URL_IN_TEXT, function (url, offset) {
      fragment.appendChild(document.createTextNode(text.slice(last, offset)));
      fragment.appendChild(el("a", { href: url, target: "_blank", rel: "noopener noreferrer", text: url }));
      last = offset + url.length;
      return url;
    });
    fragment.appendChild(document.createTextNode(text.slice(last)));
    return fragment;
  }

  function safeUrl(value) {
    try {
      var url = new URL(String(value), BASE);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function userBubble(text) {
    var bubble = el("div", { className: "pw-msg pw-user" }, [el("p", { className: "pw-text", text: text })]);
    log.appendChild(bubble);
    scrollDown();
    return bubble;
  }

  function choices(className, label, items) {
    var group = el("div", { className: className, role: "group", "aria-label": label });
    items.forEach(function (item) {
      if (!item || typeof item.title !== "string") return;
      var button = el("button", { type: "button", className: "pw-choice", text: item.title });
      button.addEventListener("click", function () {
        send({ kind: "button", title: item.title, payload: String(item.payload || item.title) });
        input.focus();
      });
      group.appendChild(button);
    });
    return group;
  }

  // A bot message in Rasa's REST shape. Quick replies only under the latest answer.
  function botBubble(message, withQuickReplies) {
    var fromAgent = typeof message.agent === "string" && message.agent;
    var bubble = el("div", { className: fromAgent ? "pw-msg pw-bot pw-agent" : "pw-msg pw-bot" });
    if (fromAgent && typeof message.text === "string" && message.text) {
      bubble.appendChild(el("span", { className: "pw-author", text: message.agent }));
    }
    if (typeof message.text === "string" && message.text) {
      var p = el("p", { className: "pw-text" });
      p.appendChild(textWithLinks(message.text));
      bubble.appendChild(p);
    }
    var image = message.image && safeUrl(message.image);
    if (image) {
      var img = el("img", { className: "pw-image", src: image, alt: "", loading: "lazy" });
      img.addEventListener("load", scrollDown);
      bubble.appendChild(img);
    }
    if (Array.isArray(message.buttons) && message.buttons.length) {
      bubble.appendChild(choices("pw-buttons", "Options", message.buttons));
    }
    if (withQuickReplies && Array.isArray(message.quick_replies) && message.quick_replies.length) {
      bubble.appendChild(choices("pw-quick", "Quick replies", message.quick_replies));
    }
    if (!bubble.firstChild) return null;      // e.g. a custom payload this widget cannot show
    log.appendChild(bubble);
    scrollDown();
    return bubble;
  }

  function dropQuickReplies() {
    Array.prototype.forEach.call(log.querySelectorAll(".pw-quick"), function (group) {
      group.parentNode.removeChild(group);
    });
  }

  function setStatus(text) {
    status.textContent = text;
    status.hidden = !text;
  }

  var unread = false;
  function markUnread() {
    if (!panel.hidden) return;
    unread = true;
    launcher.classList.add("pw-unread");
    launcher.setAttribute("aria-label", "Open the chat (new message)");
  }

  // -- sending: one message at a time, in order; queued while disconnected -------------------
  var outbox = [];          // {id, kind, text|title+payload, attempts, bubble}
  var inflight = null;      // the outbox head, sent and not yet answered
  var retryTimer = null;

  function send(item) {
    item.id = "m" + Date.now().toString(36) + randomId(4);
    item.attempts = 0;
    dropQuickReplies();
    item.bubble = userBubble(item.kind === "button" ? item.title : item.text);
    item.bubble.classList.add("pw-pending");
    outbox.push(item);
    pump();
  }

  function frameOf(item) {
    return item.kind === "button"
      ? { type: "button", title: item.title, payload: item.payload, id: item.id }
      : { type: "message", text: item.text, id: item.id };
  }

  function pump() {
    if (inflight || retryTimer || !ready || !outbox.length) return;
    inflight = outbox[0];
    inflight.attempts += 1;
    socket.send(JSON.stringify(frameOf(inflight)));
    showTyping(true);
  }

  function settle(item) {
    outbox.splice(outbox.indexOf(item), 1);
    if (inflight === item) inflight = null;
    item.bubble.classList.remove("pw-pending");
  }

  function fail(item, message) {
    settle(item);
    item.bubble.classList.add("pw-failed");
    var retry = el("button", { type: "button", className: "pw-retry", text: "Send again" });
    var note = el("p", { className: "pw-failure", text: message + " " }, [retry]);
    retry.addEventListener("click", function () {
      item.bubble.parentNode.removeChild(item.bubble);
      send(item.kind === "button" ? { kind: "button", title: item.title, payload: item.payload }
        : { kind: "message", text: item.text });
    });
    item.bubble.appendChild(note);
    scrollDown();
  }

  function showTyping(on) {
    typing.hidden = !on;
    if (on) scrollDown();
  }

  // -- the connection ---------------------------------------------------------------------------
  var socket = null;
  var ready = false;        // connected and the history is shown
  var stopped = false;
  var reconnects = 0;
  var reconnectTimer = null;

  function socketUrl() {
    var url = new URL("ws", BASE);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    if (PACK) url.searchParams.set("pack", PACK);
    url.searchParams.set("sender", sender);
    return url.href;
  }

  function connect() {
    if (socket || stopped) return;
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (!reconnects) setStatus("Connecting\u2026");
    socket = new WebSocket(socketUrl());
    socket.addEventListener("message", function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      receive(frame);
    });
    socket.addEventListener("close", function (event) {
      socket = null;
      ready = false;
      inflight = null;      // sent again after reconnecting, unless the history shows it arrived
      showTyping(false);
      if (event.code === CLOSE_UNKNOWN_PACK) {
        stopped = true;
        setStatus("This chat is not available right now.");
        return;
      }
      if (event.code === CLOSE_INVALID_SENDER) {
        sender = randomId(16);
        save("localStorage", KEY + ":sender", sender);
      }
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    if (stopped || reconnectTimer) return;
    var delay = Math.min(RECONNECT_MAX_MS, 500 * Math.pow(2, reconnects));
    reconnects += 1;
    setStatus("Reconnecting\u2026");
    reconnectTimer = setTimeout(function () { reconnectTimer = null; connect(); }, delay * (0.75 + Math.random() * 0.5));
  }

  window.addEventListener("online", function () {
    if (!socket && reconnectTimer) { clearTimeout(reconnectTimer); reconnectTimer = null; connect(); }
  });

  function receive(frame) {
    if (frame.type === "history") return showHistory(frame);
    if (frame.type === "typing") return showTyping(true);
    var item = inflight && frame.reply_to === inflight.id ? inflight : null;
    if (frame.type === "bot") {
      var messages = Array.isArray(frame.messages) ? frame.messages : [];
      messages.forEach(function (message) { botBubble(message, true); });
      if (messages.length) markUnread();
      // A frame without reply_to was pushed (a person's message): the message in flight, if
      // any, still waits for its own answer.
      if (frame.reply_to === undefined || frame.reply_to === null) return;
      if (item) settle(item);
      showTyping(false);
      return pump();
    }
    if (frame.type === "error") {
      showTyping(false);
      // Errors of the connection itself come with its close, which says what to do.
      if (!item) return;
      inflight = null;
      if (frame.retryable && item.attempts < MAX_SEND_ATTEMPTS) {
        retryTimer = setTimeout(function () { retryTimer = null; pump(); }, 1000 * item.attempts);
        return;
      }
      fail(item, "Not sent: " + (frame.retryable ? "the assistant is busy" : FAILURES[frame.code] || FAILURES.other) + ".");
      return pump();
    }
  }

  function showHistory(frame) {
    reconnects = 0;
    if (!TITLE && frame.title) heading.textContent = frame.title;
    if (frame.sender && frame.sender !== sender) {
      sender = frame.sender;
      save("localStorage", KEY + ":sender", sender);
    }
    var messages = Array.isArray(frame.messages) ? frame.messages : [];
    var arrived = {};
    var lastUser = -1;
    messages.forEach(function (message, index) {
      if (message.role === "user") {
        lastUser = index;
        if (message.id) arrived[message.id] = true;
      }
    });
    // The server is the source of truth: the log is redrawn from its history every time.
    log.textContent = "";
    messages.forEach(function (message, index) {
      if (message.role === "user") userBubble(message.title || message.text || "");
      else if (message.role === "bot") botBubble(message, index > lastUser);
    });
    // Messages sent before the connection dropped and processed meanwhile are in the history;
    // the rest are shown again and sent now.
    outbox = outbox.filter(function (item) { return !arrived[item.id]; });
    if (outbox.length) dropQuickReplies();
    outbox.forEach(function (item) { log.appendChild(item.bubble); });
    scrollDown();
    ready = true;
    setStatus("");
    pump();
  }

  // -- opening, closing, typing -----------------------------------------------------------------
  function open(focus) {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    launcher.classList.remove("pw-unread");
    launcher.setAttribute("aria-label", "Hide the chat");
    unread = false;
    save("sessionStorage", KEY + ":open", "1");
    connect();
    scrollDown();
    if (focus !== false) input.focus();
  }

  function close() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-label", unread ? "Open the chat (new message)" : "Open the chat");
    save("sessionStorage", KEY + ":open", null);
    launcher.focus();
  }

  launcher.addEventListener("click", function () { if (panel.hidden) open(true); else close(); });
  closeButton.addEventListener("click", close);
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { event.preventDefault(); close(); }
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    input.style.height = "";
    send({ kind: "message", text: text.slice(0, MAX_TEXT) });
    input.focus();
  });
  input.addEventListener("input", function () {
    // Grow with the text, up to the max-height in the CSS.
    input.style.height = "auto";
    input.style.height = input.scrollHeight + 2 + "px";
  });
  input.addEventListener("keydown", function (event) {
    // Enter sends; Shift+Enter starts a new line; Enter that ends an IME composition does neither.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (typeof form.requestSubmit === "function") form.requestSubmit();
      else sendButton.click();
    }
  });

  function mount() {
    document.body.appendChild(host);
    // Open again after a reload, without taking the focus from the page.
    if (OPEN_AT_LOAD || load("sessionStorage", KEY + ":open") === "1") open(false);
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
