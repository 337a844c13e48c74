/* The Integreat author chat widget: no framework, no build step, text always as text.
 *
 * Embedding (docs/widget.md, "Embedding it in the CMS"):
 *   <div id="author-chat"></div>
 *   <script src="https://<api>/api/v3/author-chat/widget/widget.js" data-target="#author-chat"
 *           data-token-provider="integreatAuthorToken" defer></script>
 * where window.integreatAuthorToken() returns the author's bearer token (or a promise of it).
 * Framed (<iframe src=".../api/v3/author-chat/widget/index.html">), it asks its parent for the token by
 * postMessage; opened alone, it takes #token=... from the URL's fragment.
 * Real time (docs/realtime.md): with data-websocket="wss://..." (or #ws=... in the fragment)
 * it subscribes to the author chat and polls at once when told of a change; polling stays,
 * every minute while the channel is open and every 10 s when it is not.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var VISIBLE_POLL_MS = 10000;
  var HIDDEN_POLL_MS = 60000;
  var MAX_BACKOFF_MS = 120000;
  var RECONNECT_MS = 30000;
  var KEEPALIVE_MS = 540000; // a ping every 9 minutes: API Gateway closes a connection idle for 10
  var PAGE = 50;

  function option(name, fallback) {
    var value = script && script.getAttribute("data-" + name);
    return value === null || value === undefined || value === "" ? fallback : value;
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text; // never innerHTML: text stays text
    return node;
  }

  function websocketUrl() {
    var fromFragment = /(?:^#|&)ws=([^&]+)/.exec(window.location.hash);
    return fromFragment ? decodeURIComponent(fromFragment[1]) : option("websocket", "");
  }

  // --- the token -------------------------------------------------------------------
  function tokenProvider() {
    var name = option("token-provider", "");
    if (name) {
      return function () {
        if (typeof window[name] !== "function") return Promise.reject(new Error("no token provider"));
        return Promise.resolve(window[name]());
      };
    }
    var fromFragment = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
    if (fromFragment) {
      var token = decodeURIComponent(fromFragment[1]);
      return function () { return Promise.resolve(token); };
    }
    if (window.parent !== window) return askParent;
    return function () { return Promise.reject(new Error("no token")); };
  }

  function askParent() {
    return new Promise(function (resolve, reject) {
      var timer;
      function answer(event) {
        var data = event.data;
        if (event.source !== window.parent || !data || data.type !== "integreat-author-chat:token") return;
        window.removeEventListener("message", answer);
        clearTimeout(timer);
        resolve(String(data.token || ""));
      }
      window.addEventListener("message", answer);
      window.parent.postMessage({ type: "integreat-author-chat:token-request" }, "*");
      timer = setTimeout(function () {
        window.removeEventListener("message", answer);
        reject(new Error("no token from the page"));
      }, 5000);
    });
  }

  // --- the widget ------------------------------------------------------------------
  function mount(root) {
    var api = new URL(option("api", ".."), script.src).href.replace(/\/?$/, "/");
    var token = tokenProvider();
    var state = {
      messages: {}, // id -> message, as the API gives it
      pending: [], // {key, text, failed, error}
      highlight: {}, // ids unread when they arrived: marked for this visit
      cursor: null, // for older pages
      older: false, // older pages were loaded (the poll then keeps them)
      historyDays: null,
      loaded: false,
      expired: false,
      live: false, // subscribed on the WebSocket channel: polls are only the safety net
      timer: null,
      failures: 0,
      signature: "",
      keys: 0,
    };

    root.classList.add("iac");
    // Right to left for Arabic, Farsi, Hebrew, Urdu readers (or as the page or data-dir says).
    var rtl = /^(ar|fa|he|ur|ps|ckb)\b/.test(navigator.language || "");
    root.setAttribute("dir", option("dir", document.documentElement.getAttribute("dir") || (rtl ? "rtl" : "ltr")));
    var header = element("div", "iac-header");
    var title = element("h2", "iac-title", option("title", "Author chat"));
    title.id = "iac-title-" + Math.random().toString(36).slice(2);
    var windowNote = element("p", "iac-window", "");
    header.append(title, windowNote);
    var log = element("ol", "iac-log");
    log.setAttribute("aria-labelledby", title.id);
    log.tabIndex = 0; // scrollable by keyboard
    var olderButton = element("button", "iac-older", "Load older messages");
    olderButton.type = "button";
    olderButton.hidden = true;
    var status = element("div", "iac-status");
    status.setAttribute("role", "status");
    var announcer = element("div", "iac-status");
    announcer.setAttribute("aria-live", "polite");
    announcer.style.position = "absolute";
    announcer.style.clipPath = "inset(50%)";
    var form = element("form", "iac-form");
    var input = element("textarea", "iac-input");
    input.id = title.id + "-input";
    input.rows = 2;
    input.setAttribute("dir", "auto");
    input.setAttribute("maxlength", "10000");
    var label = element("label", "", "Message (Enter sends, Shift+Enter adds a line)");
    label.htmlFor = input.id;
    var send = element("button", "iac-send", "Send");
    send.type = "submit";
    form.append(label, input, send);
    root.append(header, olderButton, log, status, announcer, form);

    function say(text, isError) {
      status.textContent = text || "";
      status.classList.toggle("iac-error", !!isError);
    }

    function request(method, path, body) {
      return token()
        .then(function (bearer) {
          var init = { method: method, headers: { Authorization: "Bearer " + bearer } };
          if (body !== undefined) {
            init.headers["Content-Type"] = "application/json";
            init.body = JSON.stringify(body);
          }
          return fetch(api + path, init);
        })
        .then(function (response) {
          if (response.ok) return response.json();
          var failure = new Error("HTTP " + response.status);
          failure.status = response.status;
          failure.retryAfter = Number(response.headers.get("Retry-After")) || 0;
          return response.json().catch(function () { return {}; }).then(function (answer) {
            failure.message = answer.error || failure.message;
            throw failure;
          });
        });
    }

    function expire() {
      state.expired = true;
      clearTimeout(state.timer);
      input.disabled = send.disabled = true;
      say("Your session has expired. Please reload the page to sign in again.", true);
    }

    // --- rendering -----------------------------------------------------------------
    function day(iso) {
      return new Date(iso).toLocaleDateString(undefined, { weekday: "long", year: "numeric", month: "long", day: "numeric" });
    }

    function time(iso) {
      return new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
    }

    function messageItem(message) {
      var item = element("li", "iac-message");
      item.setAttribute("data-id", message.id);
      var unread = state.highlight[message.id];
      if (unread) item.classList.add("iac-unread");
      var meta = element("div", "iac-meta");
      meta.append(element("span", "iac-sender", message.sender.name || message.sender.email || message.sender.id));
      var when = element("time", "iac-time", time(message.sent_at));
      when.dateTime = message.sent_at;
      when.title = new Date(message.sent_at).toLocaleString();
      meta.append(when);
      if (unread) meta.append(element("span", "iac-new", "new"));
      if (message.can_delete) {
        var actions = element("span", "iac-actions");
        var remove = element("button", "iac-delete", "Delete");
        remove.type = "button";
        remove.setAttribute("data-action", "delete");
        remove.setAttribute("aria-label", "Delete the message of " + time(message.sent_at));
        remove.addEventListener("click", function () { deleteMessage(message); });
        actions.append(remove);
        meta.append(actions);
      }
      var text = element("p", "iac-text", message.text);
      text.setAttribute("dir", "auto");
      item.append(meta, text);
      return item;
    }

    function pendingItem(entry) {
      var item = element("li", "iac-message iac-own" + (entry.failed ? " iac-failed" : ""));
      item.setAttribute("data-key", entry.key);
      var meta = element("div", "iac-meta");
      meta.append(element("span", "iac-sender", "You"));
      meta.append(element("span", "iac-time", entry.failed ? "Not sent: " + entry.error : "Sending…"));
      if (entry.failed) {
        var actions = element("span", "iac-actions");
        var retry = element("button", "iac-retry", "Retry");
        retry.type = "button";
        retry.setAttribute("data-action", "retry");
        retry.addEventListener("click", function () { deliver(entry); });
        var discard = element("button", "iac-discard", "Discard");
        discard.type = "button";
        discard.setAttribute("data-action", "discard");
        discard.addEventListener("click", function () {
          state.pending = state.pending.filter(function (other) { return other !== entry; });
          render(true);
          input.focus();
        });
        actions.append(retry, discard);
        meta.append(actions);
      }
      var text = element("p", "iac-text", entry.text);
      text.setAttribute("dir", "auto");
      item.append(meta, text);
      return item;
    }

    function ordered() {
      return Object.keys(state.messages)
        .map(function (id) { return state.messages[id]; })
        .sort(function (a, b) { return a.sent_at < b.sent_at ? -1 : a.sent_at > b.sent_at ? 1 : a.id < b.id ? -1 : 1; });
    }

    function render(force) {
      var messages = ordered();
      var signature = JSON.stringify([messages.map(function (m) { return [m.id, m.can_delete, !!state.highlight[m.id]]; }),
        state.pending.map(function (p) { return [p.key, p.failed, p.error]; })]);
      if (!force && signature === state.signature) return;
      state.signature = signature;
      // Keep the reader's place and focus across the rebuild.
      var atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
      var fromBottom = log.scrollHeight - log.scrollTop;
      var focused = document.activeElement && log.contains(document.activeElement) ? document.activeElement : null;
      var focusKey = focused && focused.closest("li") ? [focused.closest("li").getAttribute("data-id") || focused.closest("li").getAttribute("data-key"), focused.getAttribute("data-action")] : null;
      var lastDay = null;
      var items = [];
      messages.forEach(function (message) {
        var label = day(message.sent_at);
        if (label !== lastDay) {
          var separator = element("li", "iac-day", label);
          separator.setAttribute("role", "separator");
          items.push(separator);
          lastDay = label;
        }
        items.push(messageItem(message));
      });
      state.pending.forEach(function (entry) { items.push(pendingItem(entry)); });
      log.replaceChildren.apply(log, items);
      olderButton.hidden = !state.cursor;
      if (focusKey) {
        var again = log.querySelector('[data-id="' + focusKey[0] + '"] [data-action="' + focusKey[1] + '"], [data-key="' + focusKey[0] + '"] [data-action="' + focusKey[1] + '"]');
        if (again) again.focus();
      }
      log.scrollTop = atBottom ? log.scrollHeight : log.scrollHeight - fromBottom;
    }

    // --- loading and polling -------------------------------------------------------
    function take(page, isPoll) {
      var fresh = [];
      page.messages.forEach(function (message) {
        if (!state.messages[message.id]) {
          fresh.push(message);
          if (message.unread) state.highlight[message.id] = true;
        }
        state.messages[message.id] = message;
      });
      if (isPoll && !state.older) {
        // The newest page is the truth for what it covers: deleted messages go.
        var oldest = page.messages.length ? page.messages[page.messages.length - 1].sent_at : null;
        Object.keys(state.messages).forEach(function (id) {
          var known = state.messages[id];
          var inPage = page.messages.some(function (m) { return m.id === id; });
          if (!inPage && (oldest === null || known.sent_at >= oldest)) delete state.messages[id];
        });
      }
      if (!state.loaded || !isPoll) state.cursor = page.next_cursor;
      state.historyDays = page.history_days;
      windowNote.textContent = "Messages older than " + page.history_days + " days are deleted.";
      if (state.loaded) {
        var others = fresh.filter(function (m) { return m.unread; });
        if (others.length) {
          announcer.textContent = others.map(function (m) { return "New message from " + m.sender.name + ": " + m.text; }).join(" ");
        }
      }
      return fresh.some(function (m) { return m.unread; });
    }

    function markRead() {
      if (document.hidden) return;
      request("POST", "read", {}).catch(function () { /* the next poll tries again */ });
    }

    function poll() {
      clearTimeout(state.timer);
      if (state.expired) return;
      request("GET", "messages?limit=" + PAGE)
        .then(function (page) {
          var unread = take(page, state.loaded);
          state.loaded = true;
          state.failures = 0;
          say("");
          render(false);
          if (unread) markRead();
          schedule(document.hidden || state.live ? HIDDEN_POLL_MS : VISIBLE_POLL_MS);
        })
        .catch(function (failure) {
          if (failure.status === 401) return expire();
          state.failures += 1;
          var wait = Math.min(VISIBLE_POLL_MS * Math.pow(2, state.failures - 1), MAX_BACKOFF_MS);
          if (failure.retryAfter) wait = Math.max(wait, failure.retryAfter * 1000);
          if (failure.status === 429) say("Too many requests: waiting " + Math.round(wait / 1000) + " s.", false);
          else say("The chat is unavailable right now; trying again in " + Math.round(wait / 1000) + " s.", true);
          schedule(wait);
        });
    }

    // --- real time: a change of the author chat is a poll now --------------------------
    function listen() {
      var url = websocketUrl();
      if (!url || !window.WebSocket || state.expired) return;
      token().then(function (bearer) {
        var socket = new WebSocket(url);
        var keepalive = null;
        socket.onopen = function () {
          socket.send(JSON.stringify({ action: "subscribe", token: bearer }));
          keepalive = setInterval(function () {
            socket.send(JSON.stringify({ action: "ping" }));
          }, KEEPALIVE_MS);
        };
        socket.onmessage = function (message) {
          var event;
          try { event = JSON.parse(message.data); } catch (error) { return; }
          if (event.type === "subscribed") state.live = true;
          if (event.type === "author_chat") poll();
        };
        socket.onclose = function () {
          clearInterval(keepalive);
          var wasLive = state.live;
          state.live = false;
          if (wasLive) schedule(VISIBLE_POLL_MS); // back to polling at once
          if (!state.expired) setTimeout(listen, RECONNECT_MS);
        };
      }, function () { /* no token: polling says so */ });
    }

    function schedule(ms) {
      clearTimeout(state.timer);
      state.timer = setTimeout(poll, ms);
    }

    function loadOlder() {
      if (!state.cursor || state.loadingOlder) return;
      state.loadingOlder = true;
      request("GET", "messages?limit=" + PAGE + "&cursor=" + encodeURIComponent(state.cursor))
        .then(function (page) {
          state.older = true;
          take(page, false);
          render(true);
        })
        .catch(function (failure) {
          if (failure.status === 401) return expire();
          say("Older messages could not be loaded: " + failure.message, true);
        })
        .then(function () { state.loadingOlder = false; });
    }

    // --- sending and deleting ------------------------------------------------------
    function deliver(entry) {
      entry.failed = false;
      render(true);
      request("POST", "messages", { text: entry.text })
        .then(function (message) {
          state.pending = state.pending.filter(function (other) { return other !== entry; });
          state.messages[message.id] = message;
          render(true);
          log.scrollTop = log.scrollHeight;
        })
        .catch(function (failure) {
          if (failure.status === 401) expire();
          entry.failed = true;
          entry.error = failure.message;
          render(true);
        });
    }

    function deleteMessage(message) {
      if (!window.confirm("Delete this message? Nobody will see it any more.")) return;
      request("DELETE", "messages/" + encodeURIComponent(message.id))
        .then(function () {
          delete state.messages[message.id];
          render(true);
          say("Message deleted.");
          input.focus();
        })
        .catch(function (failure) {
          if (failure.status === 401) return expire();
          say("The message could not be deleted: " + failure.message, true);
        });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value.trim();
      if (!text || state.expired) return;
      input.value = "";
      state.keys += 1;
      var entry = { key: "p" + state.keys, text: text, failed: false, error: "" };
      state.pending.push(entry);
      deliver(entry);
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    olderButton.addEventListener("click", loadOlder);
    log.addEventListener("scroll", function () {
      if (log.scrollTop < 40) loadOlder();
    });
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && state.loaded && !state.expired) poll(); // back: catch up now
    });
    poll();
    listen();
  }

  var target = document.querySelector(option("target", "#integreat-author-chat"));
  if (target) mount(target);
})();
