// The agent's chat desk: the queue of waiting chats and the agent's own
// chats, kept current over /agent/chat/socket. Everything shown is text
// (never HTML) and every action is checked again by the server.
(function () {
  "use strict";
  var desk = document.getElementById("chat-desk");
  if (!desk) return;
  var queue = document.getElementById("chat-queue");
  var queueCount = document.getElementById("queue-count");
  var queueEmpty = document.getElementById("queue-empty");
  var panes = document.getElementById("chat-panes");
  var mineEmpty = document.getElementById("mine-empty");
  var connection = document.getElementById("chat-connection");
  var template = document.getElementById("chat-pane-template");
  var availability = document.getElementById("availability");
  var csrf = desk.getAttribute("data-csrf") || "";
  var socket = null;
  var retry = 1000;
  var chats = {};
  var newChatNotice = null;
  var colleagues = { agents: [], departments: [] };
  var snippets = [];
  var waitingForSnippet = null;

  // New-chat alerts, opt-in and remembered in this browser.
  var sound = document.getElementById("alert-sound");
  var notify = document.getElementById("alert-notify");
  function remembered(box, key) {
    try { box.checked = localStorage.getItem(key) === "on"; } catch (e) {}
    box.addEventListener("change", function () {
      try { localStorage.setItem(key, box.checked ? "on" : "off"); } catch (e) {}
      if (box === notify && box.checked && window.Notification && Notification.permission === "default") {
        Notification.requestPermission();
      }
    });
  }
  remembered(sound, "ferrodesk-chat-sound");
  remembered(notify, "ferrodesk-chat-notify");
  function alertNewChat(chat) {
    if (sound.checked && window.AudioContext) {
      try {
        var context = new AudioContext();
        var tone = context.createOscillator();
        var volume = context.createGain();
        tone.frequency.value = 880;
        volume.gain.value = 0.08;
        tone.connect(volume);
        volume.connect(context.destination);
        tone.start();
        tone.stop(context.currentTime + 0.18);
      } catch (e) {}
    }
    if (notify.checked && window.Notification && Notification.permission === "granted" && document.hidden) {
      new Notification(chat.visitor + " is waiting to chat", { body: chat.department, tag: "chat-" + chat.id });
    }
  }

  if (availability) {
    availability.addEventListener("change", function () { availability.form.submit(); });
  }

  function time(iso) {
    var date = new Date(iso);
    return isNaN(date) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  function command(value) {
    if (socket && socket.readyState === 1) socket.send(JSON.stringify(value));
  }

  function messageItem(message) {
    var item = document.createElement("li");
    item.className = "chat-message from-" + (message.from === "agent" ? "agent" : "visitor");
    item.setAttribute("data-id", message.id);
    var who = document.createElement("span");
    who.className = "chat-who";
    who.textContent = message.name + " · " + time(message.at);
    item.appendChild(who);
    item.appendChild(messageBody(message));
    return item;
  }

  // A message's text, or a link to its file (with a small preview for
  // images, which the server only ever serves as images).
  function messageBody(message) {
    var body = document.createElement("p");
    if (!message.file) {
      body.textContent = message.body;
      return body;
    }
    body.className = "chat-file-line";
    if (message.file.image) {
      var frame = document.createElement("a");
      frame.href = message.file.url;
      var preview = document.createElement("img");
      preview.src = message.file.url;
      preview.alt = message.file.name;
      preview.className = "chat-image";
      frame.appendChild(preview);
      body.appendChild(frame);
    }
    var link = document.createElement("a");
    link.href = message.file.url;
    link.textContent = message.file.name;
    link.setAttribute("download", message.file.name);
    body.appendChild(link);
    return body;
  }

  function secondsLeft(iso) {
    var ends = new Date(iso).getTime();
    return isNaN(ends) ? 0 : Math.max(0, Math.round((ends - Date.now()) / 1000));
  }

  function queueItem(chat) {
    var item = document.createElement("li");
    item.className = "chat-waiting";
    item.setAttribute("data-chat", chat.id);
    var name = document.createElement("strong");
    name.textContent = chat.visitor;
    var meta = document.createElement("span");
    meta.className = "muted";
    meta.textContent = " " + chat.department + " · waiting since " + time(chat.started);
    if (chat.offered_to_me) {
      item.className += " offered";
      var left = document.createElement("span");
      left.className = "offer-left";
      left.setAttribute("data-ends", chat.offer_ends || "");
      left.textContent = " · offered to you, " + secondsLeft(chat.offer_ends) + " s to accept";
      meta.appendChild(left);
    }
    var first = document.createElement("p");
    var last = (chat.messages || []).slice(-1)[0];
    first.textContent = last ? last.body : "";
    var accept = document.createElement("button");
    accept.type = "button";
    accept.className = "primary";
    accept.textContent = "Accept";
    accept.setAttribute("aria-label", "Accept the chat with " + chat.visitor);
    accept.addEventListener("click", function () { command({ type: "accept", chat: chat.id }); });
    item.appendChild(name);
    item.appendChild(meta);
    item.appendChild(first);
    item.appendChild(accept);
    if (chat.offered_to_me) {
      var decline = document.createElement("button");
      decline.type = "button";
      decline.textContent = "Pass";
      decline.setAttribute("aria-label", "Pass the chat with " + chat.visitor + " to the next agent");
      decline.addEventListener("click", function () { command({ type: "decline", chat: chat.id }); });
      item.appendChild(decline);
    }
    return item;
  }

  // Sends a file in a chat; the message comes back over the socket.
  function sendFile(chat, input) {
    var file = input.files && input.files[0];
    if (!file) return;
    var form = new FormData();
    form.append("csrf_token", csrf);
    form.append("chat", String(chat.id));
    form.append("file", file, file.name);
    connection.textContent = "Sending " + file.name + "…";
    fetch("/agent/chat/files", { method: "POST", body: form, credentials: "same-origin" }).then(function (answer) {
      if (answer.ok) { connection.textContent = ""; return; }
      return answer.json().then(function (problem) {
        connection.textContent = "The file could not be sent: " + (problem.message || answer.status);
      });
    }).catch(function () { connection.textContent = "The file could not be sent; try again."; });
    input.value = "";
  }

  // The colleagues and departments a chat can go to.
  function fillTargets(select, chat) {
    var chosen = select.value;
    select.textContent = "";
    colleagues.agents.forEach(function (agent) {
      if (agent.departments.indexOf(chat.department_id) < 0) return;
      var option = document.createElement("option");
      option.value = "agent:" + agent.id;
      option.textContent = agent.name + (agent.full ? " (at their limit)" : "");
      select.appendChild(option);
    });
    colleagues.departments.forEach(function (department) {
      if (department.id === chat.department_id) return;
      var option = document.createElement("option");
      option.value = "department:" + department.id;
      option.textContent = department.name + " queue";
      select.appendChild(option);
    });
    var anyone = select.options.length > 0;
    if (!anyone) {
      var none = document.createElement("option");
      none.value = "";
      none.textContent = "Nobody else is available";
      select.appendChild(none);
    }
    if (chosen) select.value = chosen;
    select.parentNode.querySelector(".chat-transfer").disabled = !anyone;
    select.parentNode.querySelector(".chat-invite").disabled = !anyone;
  }

  // "/shortcut" at the cursor offers matching snippets; Tab or a click
  // inserts one, filled in by the server for this chat.
  function snippetHelper(chat, text, list) {
    function typed() {
      var end = text.selectionStart;
      if (end !== text.selectionEnd) return null;
      var found = /(^|\s)\/([a-z0-9_-]*)$/i.exec(text.value.slice(0, end));
      return found ? { start: end - found[2].length - 1, end: end, word: found[2].toLowerCase() } : null;
    }
    function matches(word) {
      return snippets.filter(function (snippet) {
        return snippet.shortcut.toLowerCase().indexOf(word) === 0 || snippet.title.toLowerCase().indexOf(word) === 0;
      }).slice(0, 6);
    }
    function close() { list.hidden = true; list.textContent = ""; }
    function insert(snippet, range) {
      waitingForSnippet = { chat: chat.id, box: text, range: range };
      command({ type: "snippet", chat: chat.id, snippet: snippet.id });
      close();
    }
    text.addEventListener("input", function () {
      var range = typed();
      if (!range) { close(); return; }
      var found = matches(range.word);
      list.textContent = "";
      found.forEach(function (snippet, index) {
        var item = document.createElement("li");
        var choose = document.createElement("button");
        choose.type = "button";
        choose.className = "link";
        choose.setAttribute("role", "option");
        if (index === 0) choose.setAttribute("aria-selected", "true");
        choose.textContent = "/" + snippet.shortcut + " · " + snippet.title;
        choose.addEventListener("click", function () { insert(snippet, typed() || range); });
        item.appendChild(choose);
        list.appendChild(item);
      });
      list.hidden = found.length === 0;
    });
    text.addEventListener("keydown", function (event) {
      if (list.hidden) return;
      if (event.key === "Tab" || (event.key === "Enter" && !event.shiftKey)) {
        var range = typed();
        var found = range ? matches(range.word) : [];
        if (found.length) {
          event.preventDefault();
          event.stopImmediatePropagation();
          insert(found[0], range);
        }
      } else if (event.key === "Escape") {
        close();
      }
    });
  }

  function pane(chat) {
    var node = template.content.firstElementChild.cloneNode(true);
    node.setAttribute("data-chat", chat.id);
    node.querySelector(".chat-visitor").textContent = chat.visitor;
    var meta = chat.email + " · " + chat.department + (chat.page ? " · on " + chat.page : "");
    node.querySelector(".chat-meta").textContent = meta;
    node.querySelector(".chat-guests").textContent = guestLine(chat);
    var log = node.querySelector(".chat-log");
    log.setAttribute("aria-label", "Messages with " + chat.visitor);
    (chat.messages || []).forEach(function (message) { log.appendChild(messageItem(message)); });
    var form = node.querySelector(".chat-send");
    var text = form.querySelector("textarea");
    var label = form.querySelector("label");
    text.id = "chat-reply-" + chat.id;
    label.setAttribute("for", text.id);
    var typedAt = 0;
    text.addEventListener("input", function () {
      var now = Date.now();
      if (now - typedAt > 2500) {
        typedAt = now;
        command({ type: "typing", chat: chat.id });
      }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = text.value.trim();
      if (!body) return;
      command({ type: "message", chat: chat.id, body: body });
      text.value = "";
    });
    snippetHelper(chat, text, form.querySelector(".chat-snippets"));
    text.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
    });
    var fileInput = node.querySelector(".chat-file");
    fileInput.setAttribute("aria-label", "Send a file to " + chat.visitor);
    fileInput.addEventListener("change", function () { sendFile(chat, fileInput); });
    var pass = node.querySelector(".chat-pass");
    var target = node.querySelector(".chat-pass-target");
    target.id = "chat-pass-" + chat.id;
    node.querySelector(".chat-pass-label").setAttribute("for", target.id);
    pass.addEventListener("toggle", function () {
      if (pass.open) { fillTargets(target, chats[chat.id] || chat); command({ type: "colleagues" }); }
    });
    function chosenTarget() {
      var parts = target.value.split(":");
      return parts.length === 2 ? { kind: parts[0], id: parseInt(parts[1], 10) } : null;
    }
    node.querySelector(".chat-transfer").addEventListener("click", function () {
      var chosen = chosenTarget();
      if (!chosen) return;
      var move = { type: "transfer", chat: chat.id };
      move[chosen.kind] = chosen.id;
      command(move);
    });
    node.querySelector(".chat-invite").addEventListener("click", function () {
      var chosen = chosenTarget();
      if (chosen && chosen.kind === "agent") command({ type: "invite", chat: chat.id, agent: chosen.id });
      else connection.textContent = "Choose a colleague to invite.";
    });
    var leaveButton = node.querySelector(".chat-leave");
    leaveButton.addEventListener("click", function () { command({ type: "leave", chat: chat.id }); });
    var history = node.querySelector(".chat-history");
    var list = history.querySelector("ul");
    (chat.tickets || []).forEach(function (ticket) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = "/agent/tickets/" + encodeURIComponent(ticket.reference);
      link.textContent = ticket.subject;
      var meta = document.createElement("span");
      meta.className = "muted";
      meta.textContent = " " + ticket.status + " · " + new Date(ticket.updated).toLocaleDateString();
      item.appendChild(link);
      item.appendChild(meta);
      list.appendChild(item);
    });
    history.hidden = !(chat.tickets || []).length;
    node.querySelector(".chat-end").addEventListener("click", function () {
      command({ type: "end", chat: chat.id });
    });
    return node;
  }

  function guestLine(chat) {
    if (chat.guest) return "Invited by " + (chat.agent || "a colleague") + (chat.guests.length > 1 ? "; with " + chat.guests.join(", ") : "");
    return chat.guests && chat.guests.length ? "With " + chat.guests.join(", ") : "";
  }

  function takesPart(chat) { return chat.state === "active" && (chat.mine || chat.guest); }

  function render() {
    queue.textContent = "";
    var waiting = 0;
    var mine = 0;
    Object.keys(chats).map(Number).sort(function (a, b) { return a - b; }).forEach(function (id) {
      var chat = chats[id];
      if (chat.state === "waiting" && !chat.offered_to_other) {
        waiting += 1;
        queue.appendChild(queueItem(chat));
      }
    });
    Array.prototype.forEach.call(panes.querySelectorAll(".chat-pane"), function (node) {
      var chat = chats[node.getAttribute("data-chat")];
      if (!chat || !takesPart(chat)) node.remove();
    });
    Object.keys(chats).forEach(function (id) {
      var chat = chats[id];
      if (takesPart(chat)) {
        mine += 1;
        var existing = panes.querySelector('[data-chat="' + id + '"]');
        if (!existing) {
          panes.appendChild(pane(chat));
          var box = panes.querySelector("#chat-reply-" + id);
          if (box) box.focus();
        } else {
          existing.querySelector(".chat-guests").textContent = guestLine(chat);
        }
        var node = panes.querySelector('[data-chat="' + id + '"]');
        node.querySelector(".chat-leave").hidden = !chat.guest;
        node.querySelector(".chat-end").hidden = !chat.mine;
        node.querySelector(".chat-pass").hidden = !chat.mine;
      }
    });
    queueCount.textContent = String(waiting);
    if (waiting === 0 && connection.textContent === newChatNotice) connection.textContent = "";
    queueEmpty.hidden = waiting > 0;
    mineEmpty.hidden = mine > 0;
  }

  // The time left on offers counts down in place (no re-render, so focus
  // stays where the agent put it).
  setInterval(function () {
    Array.prototype.forEach.call(queue.querySelectorAll(".offer-left"), function (left) {
      left.textContent = " · offered to you, " + secondsLeft(left.getAttribute("data-ends")) + " s to accept";
    });
  }, 1000);

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/agent/chat/socket");
    socket.onopen = function () {
      retry = 1000;
      connection.textContent = "";
      command({ type: "snippets" });
    };
    socket.onmessage = function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      if (data.type === "chats") {
        chats = {};
        data.chats.forEach(function (chat) { chats[chat.id] = chat; });
        render();
      } else if (data.type === "gone") {
        delete chats[data.chat];
        render();
      } else if (data.type === "colleagues") {
        colleagues = data;
        Array.prototype.forEach.call(panes.querySelectorAll(".chat-pane"), function (node) {
          var chat = chats[node.getAttribute("data-chat")];
          if (chat) fillTargets(node.querySelector(".chat-pass-target"), chat);
        });
      } else if (data.type === "snippets") {
        snippets = data.snippets;
      } else if (data.type === "snippet") {
        var wanted = waitingForSnippet;
        waitingForSnippet = null;
        if (wanted && wanted.chat === data.chat) {
          wanted.box.focus();
          wanted.box.setRangeText(data.text, wanted.range.start, wanted.range.end, "end");
        }
      } else if (data.type === "chat") {
        if (data.state === "ended" || (data.state === "active" && !data.mine && !data.guest)) {
          delete chats[data.id];
        } else {
          var before = chats[data.id];
          if (before && data.messages === null) data.messages = before.messages;
          chats[data.id] = data;
          if (data.state === "waiting" && !data.offered_to_other && (!before || (data.offered_to_me && !before.offered_to_me))) {
            newChatNotice = data.visitor + " is waiting to chat.";
            connection.textContent = newChatNotice;
            alertNewChat(data);
          }
        }
        render();
      } else if (data.type === "message") {
        var chat = chats[data.chat];
        if (!chat) return;
        chat.messages = chat.messages || [];
        if (chat.messages.some(function (message) { return message.id === data.id; })) return;
        chat.messages.push(data);
        var log = panes.querySelector('[data-chat="' + data.chat + '"] .chat-log');
        if (log) {
          var typingLine = log.parentNode.querySelector(".chat-typing");
          if (typingLine && data.from === "visitor") typingLine.textContent = "";
          var item = messageItem(data);
          log.appendChild(item);
          item.scrollIntoView({ block: "nearest" });
        } else {
          render();
        }
      } else if (data.type === "typing") {
        var line = panes.querySelector('[data-chat="' + data.chat + '"] .chat-typing');
        if (line) {
          line.textContent = data.name + " is typing…";
          clearTimeout(line.timer);
          line.timer = setTimeout(function () { line.textContent = ""; }, 6000);
        }
      } else if (data.type === "error") {
        connection.textContent = data.message;
      }
    };
    socket.onclose = function () {
      socket = null;
      connection.textContent = "Connection lost; reconnecting…";
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 15000);
    };
  }
  connect();
})();
