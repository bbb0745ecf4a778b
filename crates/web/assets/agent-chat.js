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
  var socket = null;
  var retry = 1000;
  var chats = {};
  var newChatNotice = null;

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
    var body = document.createElement("p");
    body.textContent = message.body;
    item.appendChild(who);
    item.appendChild(body);
    return item;
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
    return item;
  }

  function pane(chat) {
    var node = template.content.firstElementChild.cloneNode(true);
    node.setAttribute("data-chat", chat.id);
    node.querySelector(".chat-visitor").textContent = chat.visitor;
    var meta = chat.email + " · " + chat.department + (chat.page ? " · on " + chat.page : "");
    node.querySelector(".chat-meta").textContent = meta;
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
    text.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
    });
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

  function render() {
    queue.textContent = "";
    var waiting = 0;
    var mine = 0;
    Object.keys(chats).map(Number).sort(function (a, b) { return a - b; }).forEach(function (id) {
      var chat = chats[id];
      if (chat.state === "waiting") {
        waiting += 1;
        queue.appendChild(queueItem(chat));
      }
    });
    Array.prototype.forEach.call(panes.querySelectorAll(".chat-pane"), function (node) {
      var chat = chats[node.getAttribute("data-chat")];
      if (!chat || chat.state !== "active" || !chat.mine) node.remove();
    });
    Object.keys(chats).forEach(function (id) {
      var chat = chats[id];
      if (chat.state === "active" && chat.mine) {
        mine += 1;
        if (!panes.querySelector('[data-chat="' + id + '"]')) {
          panes.appendChild(pane(chat));
          var box = panes.querySelector("#chat-reply-" + id);
          if (box) box.focus();
        }
      }
    });
    queueCount.textContent = String(waiting);
    if (waiting === 0 && connection.textContent === newChatNotice) connection.textContent = "";
    queueEmpty.hidden = waiting > 0;
    mineEmpty.hidden = mine > 0;
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/agent/chat/socket");
    socket.onopen = function () { retry = 1000; connection.textContent = ""; };
    socket.onmessage = function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      if (data.type === "chats") {
        chats = {};
        data.chats.forEach(function (chat) { chats[chat.id] = chat; });
        render();
      } else if (data.type === "chat") {
        if (data.state === "ended" || (data.state === "active" && !data.mine)) {
          delete chats[data.id];
        } else {
          var before = chats[data.id];
          if (before && data.messages === null) data.messages = before.messages;
          chats[data.id] = data;
          if (data.state === "waiting" && !before) {
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
