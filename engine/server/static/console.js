/*
 * Parley agent console: the page at /console (console.html, styled by console.css).
 *
 * Agents log in with their id and token, watch the queues, claim tickets, talk to the customer,
 * keep internal notes, and transfer, hand back to the bot or close what they hold. The API lives
 * under api/ beside this script (engine/server/console.py); every call but the login sends the
 * token, which is kept with the agent in sessionStorage ("parley-console"): a reload keeps the
 * agent logged in, closing the tab logs them out, and a 401 from any call sends them back to the
 * login form.
 *
 * The queues, the ticket list and the open ticket are polled every 2 seconds and updated in
 * place (list items are kept by id, timeline entries are appended): nothing the agent is typing
 * or has focused is ever rebuilt. Everything that comes from the server is put in the page with
 * textContent, never innerHTML. No dependencies, no build step.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var BASE = new URL(".", script && script.src ? script.src : window.location.origin + "/console/");
  var API = new URL("api/", BASE).href;
  var STORAGE_KEY = "parley-console";
  var TITLE = document.title;
  var POLL_MS = 2000;
  var SUMMARY_CHARS = 140;
  var VIEWS = ["waiting", "mine", "open", "ended"];
  var EMPTY_VIEW = {
    waiting: "No ticket is waiting.",
    mine: "You hold no ticket.",
    open: "No ticket is open.",
    ended: "No ticket has ended yet."
  };
  var STATUS_LABELS = {
    queued: "Queued",
    claimed: "Claimed",
    handed_back: "Handed back",
    closed: "Closed",
    expired: "Expired"
  };

  // -- small helpers -----------------------------------------------------------------------------
  function byId(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === false || value === null || value === undefined) return;
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else node.setAttribute(name, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined || child === false) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  // Only touches the DOM when the text changes: no flicker, no repeated announcements.
  function setText(node, text) {
    text = text === null || text === undefined ? "" : String(text);
    if (node.textContent !== text) node.textContent = text;
  }

  function spaced(value) { return String(value === null || value === undefined ? "" : value).replace(/_/g, " "); }

  function noop() { /* nothing to do */ }

  function shorten(text, limit) {
    text = String(text || "").replace(/\s+/g, " ").trim();
    if (text.length <= limit) return text;
    var cut = text.slice(0, limit);
    var space = cut.lastIndexOf(" ");
    return (space > limit * 0.6 ? cut.slice(0, space) : cut).replace(/[\s.,;:]+$/, "") + "\u2026";
  }

  function duration(seconds) {
    seconds = Math.max(0, Number(seconds) || 0);
    if (seconds < 60) return "<1 min";
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min";
    var hours = Math.floor(minutes / 60);
    if (hours < 24) return hours + " h" + (minutes % 60 ? " " + (minutes % 60) + " min" : "");
    var days = Math.floor(hours / 24);
    return days + " d" + (hours % 24 ? " " + (hours % 24) + " h" : "");
  }

  function isTime(value) { return typeof value === "number" && isFinite(value) && value > 0; }

  // Unix seconds as "14:03", or "12 Nov, 14:03" when not today.
  function clock(seconds) {
    var date = new Date(seconds * 1000);
    var time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    if (date.toDateString() === new Date().toDateString()) return time;
    return date.toLocaleDateString([], { day: "numeric", month: "short" }) + ", " + time;
  }

  function timeNode(seconds, className) {
    if (!isTime(seconds)) return null;
    var date = new Date(seconds * 1000);
    return el("time", { className: className, datetime: date.toISOString(), title: date.toLocaleString(), text: clock(seconds) });
  }

  function display(value) {
    if (typeof value === "string") return value;
    try { return JSON.stringify(value); } catch (e) { return String(value); }
  }

  // -- storage (the browser may refuse it: then the login lasts as long as the page) -------------
  function loadStored() {
    try {
      var stored = JSON.parse(window.sessionStorage.getItem(STORAGE_KEY) || "null");
      if (stored && typeof stored.token === "string" && stored.agent && typeof stored.agent.id === "string") return stored;
    } catch (e) { /* unreadable: log in again */ }
    return null;
  }

  function store(value) {
    try {
      if (value === null) window.sessionStorage.removeItem(STORAGE_KEY);
      else window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(value));
    } catch (e) { /* private mode or full: keep going without */ }
  }

  // -- the page's elements -----------------------------------------------------------------------
  var els = {
    loading: byId("pc-loading"),
    login: byId("pc-login"),
    loginForm: byId("pc-login-form"),
    loginAgent: byId("pc-login-agent"),
    loginToken: byId("pc-login-token"),
    loginError: byId("pc-login-error"),
    app: byId("pc-app"),
    main: byId("pc-main"),
    agentName: byId("pc-agent-name"),
    logout: byId("pc-logout"),
    alertBar: byId("pc-alert-bar"),
    alert: byId("pc-alert"),
    alertDismiss: byId("pc-alert-dismiss"),
    announce: byId("pc-announce"),
    queueList: byId("pc-queue-list"),
    queuesEmpty: byId("pc-queues-empty"),
    tabs: byId("pc-tabs"),
    ticketPanel: byId("pc-ticket-panel"),
    filter: byId("pc-filter"),
    filterText: byId("pc-filter-text"),
    filterClear: byId("pc-filter-clear"),
    ticketList: byId("pc-ticket-list"),
    ticketsEmpty: byId("pc-tickets-empty"),
    placeholder: byId("pc-placeholder"),
    ticket: byId("pc-ticket"),
    title: byId("pc-ticket-title"),
    status: byId("pc-ticket-status"),
    priority: byId("pc-ticket-priority"),
    facts: byId("pc-facts"),
    summary: byId("pc-summary"),
    timelineBox: byId("pc-timeline-box"),
    timeline: byId("pc-timeline"),
    timelineEmpty: byId("pc-timeline-empty"),
    actions: byId("pc-actions"),
    stateNote: byId("pc-state-note"),
    claimBox: byId("pc-claim-box"),
    claim: byId("pc-claim"),
    mine: byId("pc-mine"),
    replyForm: byId("pc-reply-form"),
    replyText: byId("pc-reply-text"),
    noteForm: byId("pc-note-form"),
    noteText: byId("pc-note-text"),
    transferForm: byId("pc-transfer-form"),
    transferQueue: byId("pc-transfer-queue"),
    transferNote: byId("pc-transfer-note"),
    transferSubmit: byId("pc-transfer-submit"),
    handbackNote: byId("pc-handback-note"),
    handbackResume: byId("pc-handback-resume"),
    handbackEnd: byId("pc-handback-end"),
    closeForm: byId("pc-close-form"),
    closeResolution: byId("pc-close-resolution"),
    closeHint: byId("pc-close-hint"),
    closeNote: byId("pc-close-note"),
    closeSubmit: byId("pc-close-submit"),
    slots: byId("pc-slots"),
    slotsBody: byId("pc-slots-body"),
    slotsEmpty: byId("pc-slots-empty"),
    trail: byId("pc-trail"),
    trailEmpty: byId("pc-trail-empty"),
    flow: byId("pc-flow"),
    transcript: byId("pc-transcript"),
    transcriptEmpty: byId("pc-transcript-empty")
  };

  // -- state -------------------------------------------------------------------------------------
  var session = 0;          // bumped at every log in and log out: answers to an older one are dropped
  var token = null;
  var agent = null;         // {id, name, queues}
  var lastAgentId = null;   // whose drafts are kept while the login form is shown
  var view = "waiting";
  var filter = null;        // {pack, queue} or null for every queue
  var queues = [];          // the last /queues answer
  var openId = null;        // the ticket shown, or null
  var current = null;       // its last rendered detail
  var packQueues = [];      // where it can be transferred
  var resolutions = {};     // how it can be closed: {name: description}
  var drafts = {};          // what was typed per ticket: {id: {reply, note}}
  var acting = false;       // an action is on its way: a second click does nothing
  var pollTimer = null;
  var pollRound = 0;
  var alertSource = null;   // "poll" (cleared by the next good poll) or "action" (stays)
  var itemNodes = {};       // ticket id -> its <li> in the list
  var queueNodes = {};      // pack + "/" + queue -> its <li>
  var timelineKeys = [];    // the entries shown, in order
  var contextSignature = null;
  var factsSignature = null;

  // Answers may arrive out of order: each request is stamped when it starts, and an answer older
  // than the one already shown is dropped.
  var stamp = 0;
  var applied = {};
  function fresher(kind, mark) {
    if (mark < (applied[kind] || 0)) return false;
    applied[kind] = mark;
    return true;
  }

  // -- the API -----------------------------------------------------------------------------------
  function ApiError(status, code, message) {
    this.status = status;
    this.code = code;
    this.message = message;
  }

  function call(method, path, body) {
    var mine = session;
    var headers = { Accept: "application/json" };
    if (token && path !== "login") headers.Authorization = "Bearer " + token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    var options = { method: method, headers: headers, cache: "no-store", credentials: "same-origin" };
    if (body !== undefined) options.body = JSON.stringify(body);
    return window.fetch(API + path, options).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (response.ok && data && typeof data === "object") return data;
        var error = (data && data.error) || {};
        throw new ApiError(
          response.status,
          error.code || "http_" + response.status,
          error.message || (response.ok ? "the server sent an answer the console cannot read"
            : "the server answered with status " + response.status)
        );
      });
    }, function () {
      throw new ApiError(0, "network", "the server cannot be reached; the console keeps trying");
    }).catch(function (error) {
      if (error instanceof ApiError && error.status === 401 && path !== "login" && mine === session) {
        endSession("Your session has ended. Please log in again.", true);
      }
      throw error;
    });
  }

  function failure(what, error) {
    var message = error && error.message ? String(error.message) : "something went wrong";
    return what + ": " + message.charAt(0).toLowerCase() + message.slice(1).replace(/\.?$/, ".");
  }

  // -- alerts and announcements ------------------------------------------------------------------
  function showAlert(message, source) {
    alertSource = source;
    setText(els.alert, message);
    els.alertBar.classList.add("pc-alert-on");
    els.alertDismiss.hidden = false;
  }

  function clearAlert(source) {
    if (source && alertSource !== source) return;
    alertSource = null;
    setText(els.alert, "");
    els.alertBar.classList.remove("pc-alert-on");
    els.alertDismiss.hidden = true;
  }

  function announce(text) {
    // Emptied first so the same words twice are announced twice.
    els.announce.textContent = "";
    window.setTimeout(function () { els.announce.textContent = text; }, 50);
  }

  // -- logging in and out ------------------------------------------------------------------------
  function showLogin(message) {
    els.loading.hidden = true;
    els.app.hidden = true;
    els.login.hidden = false;
    setText(els.loginError, message || "");
    els.loginToken.value = "";
    (els.loginAgent.value ? els.loginToken : els.loginAgent).focus();
  }

  function startSession(stored) {
    session += 1;
    if (agent === null || !stored.agent || stored.agent.id !== lastAgentId) {
      drafts = {};          // kept across a re-login, for the same agent only
      if (lastAgentId !== null) clearHash();
    }
    token = stored.token;
    agent = stored.agent;
    lastAgentId = agent.id;
    setText(els.agentName, agent.name || agent.id);
    els.loading.hidden = true;
    els.login.hidden = true;
    els.app.hidden = false;
    setText(els.loginError, "");
    clearAlert();
    route();
    poll();
  }

  // keep: the session ran out (401), so the agent's drafts and open ticket wait for them to
  // log in again; a "Log out" forgets everything.
  function endSession(message, keep) {
    if (keep) saveDraft();
    session += 1;
    window.clearTimeout(pollTimer);
    pollTimer = null;
    token = null;
    store(null);
    acting = false;
    closeTicket();
    clearLists();
    clearAlert();
    if (!keep) {
      drafts = {};
      lastAgentId = null;
      clearHash();
    }
    agent = keep ? agent : null;
    document.title = TITLE;
    showLogin(message);
  }

  function clearHash() {
    if (window.location.hash) window.history.replaceState(null, "", window.location.pathname + window.location.search);
  }

  var loggingIn = false;
  els.loginForm.addEventListener("submit", function (event) {
    event.preventDefault();
    if (loggingIn) return;
    var id = els.loginAgent.value.trim();
    var secret = els.loginToken.value;
    if (!id || !secret) {
      setText(els.loginError, "Enter your agent id and your token.");
      (id ? els.loginToken : els.loginAgent).focus();
      return;
    }
    loggingIn = true;
    setText(els.loginError, "");
    call("POST", "login", { agent: id, token: secret }).then(function (body) {
      var who = body.agent && typeof body.agent.id === "string" ? body.agent : { id: id, name: id, queues: [] };
      var stored = { token: secret, agent: who };
      store(stored);
      startSession(stored);
    }, function (error) {
      var message = error.status === 401 ? error.message || "Wrong agent id or token."
        : failure("Could not log in", error);
      setText(els.loginError, message.charAt(0).toUpperCase() + message.slice(1));
      els.loginToken.select();
      els.loginToken.focus();
    }).then(function () { loggingIn = false; });
  });

  els.logout.addEventListener("click", function () { endSession("", false); });

  // -- the queues --------------------------------------------------------------------------------
  function loadQueues() {
    var mine = session;
    var mark = ++stamp;
    return call("GET", "queues").then(function (body) {
      if (mine !== session || !fresher("queues", mark)) return;
      queues = Array.isArray(body.queues) ? body.queues : [];
      renderQueues();
      // The tab's title tells how many customers wait, for an agent working in another tab.
      var waiting = queues.reduce(function (sum, queue) { return sum + (Number(queue.waiting) || 0); }, 0);
      document.title = (waiting ? "(" + waiting + ") " : "") + TITLE;
    });
  }

  function queueOf(pack, name) {
    for (var i = 0; i < queues.length; i += 1) {
      if (queues[i].pack === pack && queues[i].name === name) return queues[i];
    }
    return null;
  }

  function renderQueues() {
    var list = els.queueList;
    var previous = null;
    queues.forEach(function (queue) {
      var key = queue.pack + "/" + queue.name;
      var node = queueNodes[key];
      if (!node) {
        var button = el("button", { type: "button", className: "pc-queue-button" });
        button.addEventListener("click", function () { toggleFilter(queue.pack, queue.name); });
        node = queueNodes[key] = el("li", { className: "pc-queue" }, [button]);
        node.setAttribute("data-queue", queue.name);
        node.setAttribute("data-pack", queue.pack);
      }
      var selected = !!filter && filter.pack === queue.pack && filter.queue === queue.name;
      var signature = JSON.stringify([queue, selected]);
      if (node.signature !== signature) {
        node.signature = signature;
        var open = queue.open !== false;
        var button2 = node.firstChild;
        button2.setAttribute("aria-pressed", selected ? "true" : "false");
        button2.title = selected ? "Show the tickets of every queue" : "Show only this queue's tickets";
        button2.textContent = "";
        button2.appendChild(el("span", { className: "pc-queue-top" }, [
          el("span", { className: "pc-queue-name", text: queue.name }),
          el("span", { className: "pc-queue-pack", text: queue.pack }),
          el("span", { className: "pc-badge " + (open ? "pc-open" : "pc-shut"), text: open ? "Open" : "Closed" })
        ]));
        var waiting = Number(queue.waiting) || 0;
        button2.appendChild(el("span", { className: "pc-queue-counts" }, [
          el("span", { className: waiting ? "pc-count pc-count-waiting" : "pc-count", text: waiting + " waiting" }),
          el("span", { className: "pc-count", text: (Number(queue.claimed) || 0) + " claimed" }),
          isFinite(Number(queue.max_wait_minutes)) && queue.max_wait_minutes !== null
            ? el("span", { className: "pc-count pc-muted", text: "max wait " + queue.max_wait_minutes + " min" })
            : null
        ]));
        if (queue.description) {
          button2.appendChild(el("span", { className: "pc-queue-description", text: queue.description }));
        }
      }
      var want = previous ? previous.nextSibling : list.firstChild;
      if (node !== want) list.insertBefore(node, want);
      previous = node;
    });
    removeAfter(list, previous, queueNodes);
    setText(els.queuesEmpty, queues.length ? "" : "No queues.");
    els.queuesEmpty.hidden = queues.length > 0;
  }

  // Removes the list's nodes after `last` (all of them when null) and forgets them.
  function removeAfter(list, last, index) {
    var node = last ? last.nextSibling : list.firstChild;
    while (node) {
      var next = node.nextSibling;
      list.removeChild(node);
      Object.keys(index).forEach(function (key) { if (index[key] === node) delete index[key]; });
      node = next;
    }
  }

  function toggleFilter(pack, name) {
    var same = filter && filter.pack === pack && filter.queue === name;
    filter = same ? null : { pack: pack, queue: name };
    els.filter.hidden = !filter;
    setText(els.filterText, filter ? "Queue " + filter.queue + " (" + filter.pack + ")" : "");
    renderQueues();
    startView();
  }

  els.filterClear.addEventListener("click", function () {
    if (filter) toggleFilter(filter.pack, filter.queue);
  });

  // -- the ticket list ---------------------------------------------------------------------------
  function ticketsPath() {
    var query = new URLSearchParams({ view: view });
    if (filter) {
      query.set("queue", filter.queue);
      query.set("pack", filter.pack);
    }
    return "tickets?" + query.toString();
  }

  function loadTickets() {
    var mine = session;
    var path = ticketsPath();
    var mark = ++stamp;
    return call("GET", path).then(function (body) {
      if (mine !== session || path !== ticketsPath() || !fresher("tickets", mark)) return;
      renderTickets(Array.isArray(body.tickets) ? body.tickets : []);
    });
  }

  function clearLists() {
    removeAfter(els.ticketList, null, itemNodes);
    removeAfter(els.queueList, null, queueNodes);
    queues = [];
    setText(els.ticketsEmpty, "Loading\u2026");
    els.ticketsEmpty.hidden = false;
    setText(els.queuesEmpty, "Loading\u2026");
    els.queuesEmpty.hidden = false;
  }

  // A new view or filter: the old list goes at once, so it is never mistaken for the new one.
  function startView() {
    removeAfter(els.ticketList, null, itemNodes);
    setText(els.ticketsEmpty, "Loading\u2026");
    els.ticketsEmpty.hidden = false;
    poll();
  }

  function renderTickets(tickets) {
    var list = els.ticketList;
    var previous = null;
    tickets.forEach(function (ticket) {
      var key = String(ticket.id);
      var node = itemNodes[key];
      if (!node) {
        node = itemNodes[key] = el("li", { className: "pc-item", "data-testid": "ticket-item", "data-ticket-id": key }, [
          el("a", { className: "pc-item-link", href: "#ticket-" + encodeURIComponent(key) })
        ]);
      }
      fillItem(node, ticket);
      var want = previous ? previous.nextSibling : list.firstChild;
      if (node !== want) list.insertBefore(node, want);
      previous = node;
    });
    removeAfter(list, previous, itemNodes);
    setText(els.ticketsEmpty, tickets.length ? "" : EMPTY_VIEW[view]);
    els.ticketsEmpty.hidden = tickets.length > 0;
    markOpenItem();
  }

  function fillItem(node, ticket) {
    var queue = queueOf(ticket.pack, ticket.queue);
    var waited = typeof ticket.waited_seconds === "number" ? ticket.waited_seconds
      : Date.now() / 1000 - Number(ticket.created_at || 0);
    var maxWait = queue && typeof queue.max_wait_minutes === "number" ? queue.max_wait_minutes : null;
    var late = ticket.status === "queued" && maxWait !== null && waited > maxWait * 60;
    var ended = ticket.status !== "queued" && ticket.status !== "claimed";
    var age = duration(waited);
    var signature = JSON.stringify([ticket.priority, ticket.queue, ticket.pack, ticket.reason, ticket.status,
      ticket.agent, ticket.summary, ticket.resolution, ticket.handback, age, late, agent && agent.id]);
    if (node.signature === signature) return;
    node.signature = signature;
    node.setAttribute("data-priority", String(ticket.priority));
    node.setAttribute("data-status", String(ticket.status));
    node.classList.toggle("pc-late", late);
    var link = node.firstChild;   // kept: a focused link stays focused
    link.textContent = "";
    link.appendChild(el("span", { className: "pc-item-top" }, [
      priorityBadge(ticket.priority),
      el("span", { className: "pc-item-queue", text: ticket.queue }),
      el("span", { className: "pc-item-age", title: ended ? "How long it lasted" : "How long since it was opened" }, [
        el("span", { className: "pc-sr-only", text: ended ? "lasted " : "open for " }), age
      ])
    ]));
    link.appendChild(el("span", { className: "pc-item-reason", text: spaced(ticket.reason) }));
    var state = itemState(ticket);
    if (state || late) {
      link.appendChild(el("span", { className: "pc-item-state" }, [
        late ? el("span", { className: "pc-late-flag", text: "Over the " + maxWait + " min wait" }) : null,
        state ? el("span", { text: state }) : null
      ]));
    }
    link.appendChild(el("span", { className: "pc-item-summary", text: shorten(ticket.summary, SUMMARY_CHARS) }));
  }

  function itemState(ticket) {
    if (ticket.status === "queued") return view === "waiting" ? "" : "Waiting";
    if (ticket.status === "claimed") return ticket.agent === (agent && agent.id) ? "Claimed by you" : "Claimed by " + ticket.agent;
    return outcome(ticket);
  }

  function priorityBadge(priority) {
    var name = String(priority || "normal");
    return el("span", { className: "pc-badge pc-prio pc-prio-" + name.replace(/[^a-z]/g, ""), text: name });
  }

  function markOpenItem() {
    Object.keys(itemNodes).forEach(function (key) {
      var link = itemNodes[key].firstChild;
      if (openId !== null && key === String(openId)) link.setAttribute("aria-current", "true");
      else link.removeAttribute("aria-current");
    });
  }

  // Tabs: a click or the arrow keys choose the view (the WAI-ARIA tabs pattern).
  var tabButtons = Array.prototype.slice.call(els.tabs.querySelectorAll("[role=tab]"));
  function setView(name, focus) {
    if (VIEWS.indexOf(name) < 0) return;
    tabButtons.forEach(function (tab) {
      var chosen = tab.getAttribute("data-view") === name;
      tab.setAttribute("aria-selected", chosen ? "true" : "false");
      tab.tabIndex = chosen ? 0 : -1;
      if (chosen) {
        els.ticketPanel.setAttribute("aria-labelledby", tab.id);
        if (focus) tab.focus();
      }
    });
    if (view === name) return;
    view = name;
    startView();
  }
  tabButtons.forEach(function (tab, index) {
    tab.addEventListener("click", function () { setView(tab.getAttribute("data-view"), false); });
    tab.addEventListener("keydown", function (event) {
      var to = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabButtons.length - 1 }[event.key];
      if (to === undefined) return;
      event.preventDefault();
      var next = tabButtons[(to + tabButtons.length) % tabButtons.length];
      setView(next.getAttribute("data-view"), true);
    });
  });

  // -- polling -----------------------------------------------------------------------------------
  // One round asks for the queues, the list and the open ticket; the next round starts 2 s after
  // this one ends, so slow answers never pile up. poll() also starts a round at once.
  function poll() {
    window.clearTimeout(pollTimer);
    pollTimer = null;
    if (token === null) return;
    var mine = session;
    var round = ++pollRound;
    var jobs = [loadQueues(), loadTickets()];
    if (openId !== null) jobs.push(loadTicket());
    Promise.all(jobs.map(function (job) {
      return job.then(function () { return null; }, function (error) { return error; });
    })).then(function (errors) {
      if (mine !== session) return;
      var failed = errors.filter(Boolean)[0];
      if (failed) showAlert(failure("Could not refresh", failed), "poll");
      else clearAlert("poll");
      if (round === pollRound) pollTimer = window.setTimeout(poll, POLL_MS);
    });
  }

  // -- one ticket --------------------------------------------------------------------------------
  function route() {
    var match = /^#ticket-(\d+)$/.exec(window.location.hash);
    if (match) openTicket(Number(match[1]));
    else closeTicket();
  }
  window.addEventListener("hashchange", function () {
    if (token === null) return;
    route();
    poll();
  });

  function openTicket(id) {
    if (id === openId) return;
    saveDraft();
    openId = id;
    current = null;
    resetTicketView();
    var draft = drafts[id] || {};
    els.replyText.value = draft.reply || "";
    els.noteText.value = draft.note || "";
    markOpenItem();
    els.placeholder.hidden = false;
    setText(els.placeholder, "Loading ticket #" + id + "\u2026");
    els.ticket.hidden = true;
  }

  function closeTicket() {
    saveDraft();
    openId = null;
    current = null;
    resetTicketView();
    els.replyText.value = "";
    els.noteText.value = "";
    els.ticket.hidden = true;
    els.placeholder.hidden = false;
    setText(els.placeholder, "Choose a ticket from the list.");
    markOpenItem();
  }

  function resetTicketView() {
    els.timeline.textContent = "";
    timelineKeys = [];
    contextSignature = null;
    factsSignature = null;
    packQueues = [];
    resolutions = {};
    els.transferNote.value = "";
    els.handbackNote.value = "";
    els.closeNote.value = "";
    els.transferQueue.textContent = "";
    els.transferQueue.signature = null;
    els.closeResolution.textContent = "";
    els.closeResolution.signature = null;
  }

  function saveDraft() {
    if (openId === null) return;
    var reply = els.replyText.value;
    var note = els.noteText.value;
    if (reply || note) drafts[openId] = { reply: reply, note: note };
    else delete drafts[openId];
  }

  function loadTicket() {
    var mine = session;
    var id = openId;
    var mark = ++stamp;
    return call("GET", "tickets/" + encodeURIComponent(id)).then(function (body) {
      if (mine !== session || id !== openId || !fresher("ticket", mark)) return;
      renderTicket(body);
    }, function (error) {
      if (mine !== session || id !== openId) return;
      if (error.status === 404) {
        clearHash();
        closeTicket();
        showAlert(failure("Could not open ticket #" + id, error), "action");
        return;
      }
      throw error;
    });
  }

  function renderTicket(body) {
    var ticket = body && body.ticket;
    if (!ticket || ticket.id !== openId) return;
    // The actions answer with the ticket alone; the queues and resolutions stay as they were.
    if (Array.isArray(body.queues)) packQueues = body.queues;
    if (body.resolutions && typeof body.resolutions === "object") resolutions = body.resolutions;
    var first = current === null;
    current = ticket;
    els.placeholder.hidden = true;
    els.ticket.hidden = false;
    renderHead(ticket);
    renderContext(ticket);
    renderTimeline(Array.isArray(ticket.timeline) ? ticket.timeline : [], first);
    renderActions(ticket);
  }

  function renderHead(ticket) {
    setText(els.title, "Ticket #" + ticket.id);
    var status = String(ticket.status);
    setText(els.status, STATUS_LABELS[status] || spaced(status));
    els.status.setAttribute("data-status", status);
    els.status.className = "pc-badge pc-status pc-status-" + status.replace(/[^a-z_]/g, "");
    var priority = String(ticket.priority || "normal");
    if (els.priority.getAttribute("data-priority") !== priority) {
      els.priority.setAttribute("data-priority", priority);
      els.priority.className = "pc-badge pc-prio pc-prio-" + priority.replace(/[^a-z]/g, "");
      els.priority.textContent = "";
      els.priority.appendChild(document.createTextNode(priority));
      els.priority.appendChild(el("span", { className: "pc-sr-only", text: " priority" }));
    }

    var open = ticket.status === "queued" || ticket.status === "claimed";
    var opened = isTime(ticket.created_at) ? clock(ticket.created_at) : "";
    if (opened && typeof ticket.waited_seconds === "number") {
      opened += open ? " (" + duration(ticket.waited_seconds) + " ago)" : "";
    }
    var facts = [
      ["Queue", ticket.queue, "ticket-queue"],
      ["Pack", ticket.pack],
      ["Reason", spaced(ticket.reason), "ticket-reason"],
      ["Agent", ticket.agent ? (agent && ticket.agent === agent.id ? "You (" + ticket.agent + ")" : ticket.agent) : "Nobody yet"],
      ["Customer", ticket.sender_id + (ticket.channel ? " on " + ticket.channel : "")],
      ["Opened", opened],
      ["Queued", isTime(ticket.queued_at) && ticket.queued_at - ticket.created_at > 1 ? clock(ticket.queued_at) : ""],
      ["Claimed", isTime(ticket.claimed_at) ? clock(ticket.claimed_at) : ""],
      ["First reply", isTime(ticket.first_reply_at) ? clock(ticket.first_reply_at) : ""],
      ["Ended", isTime(ticket.ended_at) ? clock(ticket.ended_at) : ""],
      ["Lasted", !open && typeof ticket.waited_seconds === "number" ? duration(ticket.waited_seconds) : ""],
      ["Outcome", open ? "" : outcome(ticket)]
    ].filter(function (fact) { return fact[1]; });
    var signature = JSON.stringify(facts);
    if (signature === factsSignature) return;
    factsSignature = signature;
    els.facts.textContent = "";
    facts.forEach(function (fact) {
      els.facts.appendChild(el("div", { className: "pc-fact" }, [
        el("dt", { text: fact[0] }),
        el("dd", { text: fact[1], "data-testid": fact[2] || null })
      ]));
    });
  }

  function outcome(ticket) {
    if (ticket.status === "closed") return "Closed" + (ticket.resolution ? ": " + spaced(ticket.resolution) : "");
    if (ticket.status === "handed_back") {
      if (ticket.handback === "resume") return "Handed back to the bot, the flow resumed";
      if (ticket.handback === "end") return "Handed back to the bot, the flow ended";
      return "Handed back to the bot";
    }
    if (ticket.status === "expired") return ticket.timed_out ? "Expired: nobody claimed it in time" : "Expired";
    return STATUS_LABELS[ticket.status] || spaced(ticket.status);
  }

  // -- the context packet ------------------------------------------------------------------------
  function renderContext(ticket) {
    var packet = ticket.context && typeof ticket.context === "object" ? ticket.context : {};
    var signature = JSON.stringify([packet, ticket.summary]);
    if (signature === contextSignature) return;
    contextSignature = signature;

    setText(els.summary, packet.summary || ticket.summary || "No summary.");

    var slots = packet.slots && typeof packet.slots === "object" ? packet.slots : {};
    var names = Object.keys(slots);
    els.slotsBody.textContent = "";
    names.forEach(function (name) {
      var value = display(slots[name]);
      els.slotsBody.appendChild(el("tr", { "data-slot": name }, [
        el("th", { scope: "row" }, [el("code", { text: name })]),
        el("td", { className: value === "[redacted]" ? "pc-redacted" : null, text: value })
      ]));
    });
    els.slots.hidden = names.length === 0;
    els.slotsEmpty.hidden = names.length > 0;

    var trail = Array.isArray(packet.intent_trail) ? packet.intent_trail : [];
    els.trail.textContent = "";
    trail.forEach(function (intent) { els.trail.appendChild(el("li", {}, [el("code", { text: display(intent) })])); });
    els.trail.hidden = trail.length === 0;
    els.trailEmpty.hidden = trail.length > 0;

    els.flow.textContent = "";
    if (packet.flow) {
      els.flow.appendChild(el("code", { text: display(packet.flow) }));
      if (packet.step) els.flow.appendChild(el("span", { className: "pc-muted", text: " at the step " }));
      if (packet.step) els.flow.appendChild(el("code", { text: display(packet.step) }));
    } else {
      els.flow.appendChild(el("span", { className: "pc-muted", text: "No flow was active." }));
    }

    var lines = Array.isArray(packet.transcript) ? packet.transcript : [];
    els.transcript.textContent = "";
    lines.forEach(function (line) {
      var customer = line.from === "customer";
      els.transcript.appendChild(el("li", { className: "pc-line " + (customer ? "pc-line-customer" : "pc-line-bot"), "data-from": customer ? "customer" : "bot" }, [
        el("span", { className: "pc-line-meta" }, [
          el("span", { className: "pc-who-label", text: customer ? "Customer" : "Bot" }),
          timeNode(line.time, "pc-time"),
          customer && line.intent ? el("code", { className: "pc-intent", title: "The intent the bot recognised", text: display(line.intent) }) : null
        ]),
        el("span", { className: "pc-line-text", text: display(line.text === undefined ? "" : line.text) })
      ]));
    });
    els.transcript.hidden = lines.length === 0;
    els.transcriptEmpty.hidden = lines.length > 0;
  }

  // -- the timeline ------------------------------------------------------------------------------
  function who(actor) {
    if (actor === "customer") return "Customer";
    if (actor === "system") return "Parley";
    if (agent && actor === agent.id) return "You";
    return String(actor);
  }

  function eventSentence(entry) {
    var data = entry.data && typeof entry.data === "object" ? entry.data : {};
    var by = who(entry.actor);
    switch (entry.kind) {
      case "requested":
        return "Handoff requested" + (data.reason ? " (" + spaced(data.reason) + ")" : "");
      case "claimed":
        return by + " claimed the ticket";
      case "transferred": {
        var to = data.to || data.queue;
        return by + " transferred the ticket" + (data.from ? " from " + data.from : "") + (to ? " to " + to : "");
      }
      case "reprioritized": {
        var priority = data.to || data.priority;
        return "Priority changed" + (data.from ? " from " + data.from : "") + (priority ? " to " + priority : "");
      }
      case "handed_back": {
        var resume = data.resume === true || data.handback === "resume" ? " (the flow resumes)"
          : data.resume === false || data.handback === "end" ? " (the flow ends)" : "";
        return by + " handed the conversation back to the bot" + resume;
      }
      case "closed":
        return by + " closed the ticket" + (data.resolution ? " as " + spaced(data.resolution) : "");
      case "expired":
        return "The ticket expired" + (data.timed_out ? ": nobody claimed it in time" : "");
      default:
        return spaced(entry.kind);
    }
  }

  var SPOKEN = { customer_message: true, agent_reply: true, note: true, wait_message: true };

  function entryNode(entry) {
    var kind = String(entry.kind);
    var text = typeof entry.text === "string" ? entry.text : "";
    var data = entry.data && typeof entry.data === "object" ? entry.data : {};
    // A button the customer clicked: its payload is the text, its title what they saw.
    if (kind === "customer_message" && typeof data.button_title === "string") {
      text = data.button_title + (text ? " (button " + text + ")" : "");
    }
    var node = el("li", { className: "pc-entry pc-entry-" + kind.replace(/[^a-z_]/g, ""), "data-kind": kind });
    if (SPOKEN[kind]) {
      var label = {
        customer_message: "Customer",
        agent_reply: who(entry.actor),
        note: who(entry.actor),
        wait_message: "Bot to the customer"
      }[kind];
      node.appendChild(el("span", { className: "pc-entry-meta" }, [
        kind === "note" ? el("span", { className: "pc-internal", text: "Internal note" }) : null,
        el("span", { className: "pc-who-label", text: label }),
        timeNode(entry.at, "pc-time")
      ]));
      node.appendChild(el("span", { className: "pc-entry-text", text: text }));
    } else {
      node.appendChild(el("span", { className: "pc-entry-meta" }, [
        el("span", { className: "pc-event", text: eventSentence(entry) }),
        timeNode(entry.at, "pc-time")
      ]));
      if (text) node.appendChild(el("span", { className: "pc-entry-text", text: text }));
    }
    return node;
  }

  function renderTimeline(entries, rebuild) {
    var keys = entries.map(function (entry, index) {
      return entry.id !== null && entry.id !== undefined ? "e" + entry.id : "i" + index;
    });
    var extends_ = !rebuild && timelineKeys.length <= keys.length && timelineKeys.every(function (key, index) {
      return key === keys[index];
    });
    var box = els.timelineBox;
    var atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    if (!extends_) {
      els.timeline.textContent = "";
      timelineKeys = [];
    }
    var added = entries.slice(timelineKeys.length);
    added.forEach(function (entry) { els.timeline.appendChild(entryNode(entry)); });
    timelineKeys = keys;
    els.timelineEmpty.hidden = entries.length > 0;
    if (added.length && (!extends_ || atBottom)) box.scrollTop = box.scrollHeight;
    if (extends_ && added.some(function (entry) { return entry.kind === "customer_message"; })) {
      announce("New message from the customer on ticket #" + openId + ".");
    }
  }

  // -- actions -----------------------------------------------------------------------------------
  function renderActions(ticket) {
    var mine = ticket.status === "claimed" && agent !== null && ticket.agent === agent.id;
    els.claimBox.hidden = ticket.status !== "queued";
    els.mine.hidden = !mine;
    var note = "";
    if (ticket.status === "queued") note = "Waiting in the " + ticket.queue + " queue. Claim it to talk to the customer.";
    else if (ticket.status === "claimed" && !mine) {
      note = "Claimed by " + ticket.agent + ": only they can reply, transfer, hand it back or close it.";
    } else if (!mine) note = outcome(ticket) + ". Nothing more can be done with this ticket.";
    setText(els.stateNote, note);
    els.stateNote.hidden = !note;
    if (mine) {
      fillTransfer(ticket);
      fillResolutions();
    }
  }

  // Options are rebuilt only when they change, so a choice the agent made survives the polls.
  function fillSelect(select, options, emptyText) {
    var signature = JSON.stringify(options);
    if (select.signature === signature) return;
    select.signature = signature;
    var chosen = select.value;
    select.textContent = "";
    options.forEach(function (option) {
      select.appendChild(el("option", { value: option[0], text: option[1] }));
    });
    if (!options.length) select.appendChild(el("option", { value: "", text: emptyText }));
    if (options.some(function (option) { return option[0] === chosen; })) select.value = chosen;
    select.disabled = options.length === 0;
  }

  function fillTransfer(ticket) {
    var options = packQueues.filter(function (name) { return name !== ticket.queue; })
      .map(function (name) { return [String(name), String(name)]; });
    fillSelect(els.transferQueue, options, "No other queue");
    els.transferSubmit.disabled = options.length === 0;
  }

  function fillResolutions() {
    var options = Object.keys(resolutions).map(function (name) { return [name, spaced(name)]; });
    fillSelect(els.closeResolution, options, "No resolution available");
    els.closeSubmit.disabled = options.length === 0;
    describeResolution();
  }

  function describeResolution() {
    var description = resolutions[els.closeResolution.value];
    setText(els.closeHint, typeof description === "string" ? description : "");
  }
  els.closeResolution.addEventListener("change", describeResolution);

  function withNote(body, input) {
    var note = input.value.trim();
    if (note) body.note = note;
    return body;
  }

  // Sends one action for the open ticket; its answer is the ticket as it is now.
  function act(action, body, what, done) {
    if (acting || openId === null || token === null) return;
    var mine = session;
    var id = openId;
    acting = true;
    els.actions.setAttribute("aria-busy", "true");
    clearAlert();
    call("POST", "tickets/" + encodeURIComponent(id) + "/" + action, body).then(function (answer) {
      if (mine !== session) return;
      // Stamped on arrival: it is newer than any poll that started before it.
      if (id === openId && fresher("ticket", ++stamp)) renderTicket(answer);
      if (done) done(id);
      poll();
    }, function (error) {
      if (mine !== session) return;
      showAlert(failure(what, error), "action");
      poll();                     // shows what the ticket is now (e.g. who claimed it first)
    }).then(function () {
      if (mine !== session) return;
      acting = false;
      els.actions.removeAttribute("aria-busy");
    });
  }

  // The buttons just used are gone with the state that showed them: the focus goes to the ticket.
  function focusTitle(id) {
    if (id === openId && els.mine.hidden) els.title.focus();
  }

  els.claim.addEventListener("click", function () {
    act("claim", undefined, "Could not claim the ticket", function (id) {
      if (id === openId && !els.mine.hidden) els.replyText.focus();
    });
  });

  function sendText(action, input, what) {
    var text = input.value.trim();
    if (!text) {
      input.focus();
      return;
    }
    act(action, { text: text }, what, function (id) {
      // Cleared only if it still holds what was sent (the agent may have kept typing).
      if (id === openId && input.value.trim() === text) input.value = "";
      else if (id !== openId && drafts[id]) drafts[id][action === "reply" ? "reply" : "note"] = "";
    });
  }

  els.replyForm.addEventListener("submit", function (event) {
    event.preventDefault();
    sendText("reply", els.replyText, "Could not send the reply");
  });
  els.noteForm.addEventListener("submit", function (event) {
    event.preventDefault();
    sendText("notes", els.noteText, "Could not add the note");
  });
  [els.replyText, els.noteText].forEach(function (input) {
    input.addEventListener("keydown", function (event) {
      // Enter sends; Shift+Enter starts a new line; Enter that ends an IME composition does neither.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        if (typeof input.form.requestSubmit === "function") input.form.requestSubmit();
        else input.form.querySelector("[type=submit]").click();
      }
    });
  });

  els.transferForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var queue = els.transferQueue.value;
    if (!queue) return;
    act("transfer", withNote({ queue: queue }, els.transferNote), "Could not transfer the ticket", function (id) {
      els.transferNote.value = "";
      focusTitle(id);
    });
  });

  function handBack(resume) {
    act("handback", withNote({ resume: resume }, els.handbackNote), "Could not hand the conversation back", function (id) {
      els.handbackNote.value = "";
      focusTitle(id);
    });
  }
  els.handbackResume.addEventListener("click", function () { handBack(true); });
  els.handbackEnd.addEventListener("click", function () { handBack(false); });

  els.closeForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var resolution = els.closeResolution.value;
    if (!resolution) return;
    act("close", withNote({ resolution: resolution }, els.closeNote), "Could not close the ticket", function (id) {
      els.closeNote.value = "";
      focusTitle(id);
    });
  });

  els.alertDismiss.addEventListener("click", function () {
    clearAlert();
    els.main.focus();
  });

  // -- start ---------------------------------------------------------------------------------------
  var stored = loadStored();
  if (!stored) {
    showLogin("");
  } else {
    // Check the stored token before showing anything: a stale one goes straight to the form.
    token = stored.token;
    els.loginAgent.value = stored.agent.id;
    call("GET", "me").then(function (body) {
      if (body.agent && typeof body.agent.id === "string") stored.agent = body.agent;
      store(stored);
      startSession(stored);
    }, function (error) {
      if (error.status === 401) return;     // call() has shown the form already
      startSession(stored);
      showAlert(failure("Could not check your login", error), "poll");
    }).catch(noop);
  }
})();
