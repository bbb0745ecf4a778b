// The help center's chat: starts a chat over /chat/socket, then shows the
// conversation as it happens. The chat's secret key stays in this tab's
// session storage, so a reload or a lost connection resumes the same chat.
(function () {
  "use strict";
  var box = document.getElementById("chat");
  var start = document.getElementById("chat-start");
  if (!box || !start) return;
  var room = document.getElementById("chat-room");
  var log = document.getElementById("chat-log");
  var status = document.getElementById("chat-status");
  var sendForm = document.getElementById("chat-send");
  var text = document.getElementById("chat-text");
  var endButton = document.getElementById("chat-end");
  var leave = document.getElementById("chat-leave-request");
  var startError = document.getElementById("chat-start-error");
  var waitSeconds = parseInt(box.getAttribute("data-wait-seconds"), 10) || 120;
  var words = function (name) { return box.getAttribute("data-text-" + name) || ""; };
  var KEY = "ferrodesk-chat-key";
  var socket = null;
  var state = "";
  var waitTimer = null;
  var retry = 1000;
  var seen = {};
  var typing = document.getElementById("chat-typing");
  var typingTimer = null;
  var typedAt = 0;
  var currentAgent = null;
  var fileInput = document.getElementById("chat-file");
  var transcript = document.getElementById("chat-transcript");

  function storedKey() {
    try { return sessionStorage.getItem(KEY); } catch (e) { return null; }
  }
  function storeKey(key) {
    try { if (key) sessionStorage.setItem(KEY, key); else sessionStorage.removeItem(KEY); } catch (e) {}
  }

  function time(iso) {
    var date = new Date(iso);
    return isNaN(date) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function addMessage(message) {
    if (message.id && seen[message.id]) return;
    if (message.from === "agent" && typing) typing.textContent = "";
    if (message.id) seen[message.id] = true;
    var item = document.createElement("li");
    item.className = "chat-message from-" + (message.from === "agent" ? "agent" : "visitor");
    var who = document.createElement("span");
    who.className = "chat-who";
    who.textContent = message.name + " · " + time(message.at);
    item.appendChild(who);
    item.appendChild(messageBody(message));
    log.appendChild(item);
    item.scrollIntoView({ block: "nearest" });
  }

  // A message's text, or a link to its file (a small preview for images,
  // which the server only ever serves as images).
  function messageBody(message) {
    var body = document.createElement("p");
    if (!message.file) {
      body.textContent = message.body;
      return body;
    }
    var link = document.createElement("a");
    link.href = message.file.url;
    link.textContent = message.file.name;
    link.setAttribute("download", message.file.name);
    body.className = "chat-file-line";
    if (message.file.image) {
      var preview = document.createElement("img");
      preview.src = message.file.url;
      preview.alt = message.file.name;
      preview.className = "chat-image";
      var frame = document.createElement("a");
      frame.href = message.file.url;
      frame.appendChild(preview);
      body.appendChild(frame);
    }
    body.appendChild(link);
    return body;
  }

  function showState(newState, agent) {
    var before = state;
    state = newState;
    currentAgent = agent;
    if (newState === "waiting" && before === "active") {
      status.textContent = words("transferred");
    } else if (newState === "waiting") {
      status.textContent = words("waiting");
      if (!waitTimer) {
        waitTimer = setTimeout(function () { if (state === "waiting") leave.hidden = false; }, waitSeconds * 1000);
      }
    } else if (newState === "active") {
      status.textContent = words("agent-here").replace("{agent}", agent || words("an-agent"));
      leave.hidden = true;
    } else if (newState === "ended") {
      status.textContent = words("ended");
      sendForm.hidden = true;
      endButton.hidden = true;
      leave.hidden = true;
      storeKey(null);
    }
  }

  function connect(onOpen) {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/chat/socket");
    socket.onopen = function () { retry = 1000; onOpen(); };
    socket.onmessage = function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      if (data.type === "started") {
        storeKey(data.key);
      } else if (data.type === "chat") {
        start.hidden = true;
        room.hidden = false;
        log.textContent = "";
        seen = {};
        data.messages.forEach(addMessage);
        if (transcript) {
          // Offered only when there is an address to mail it to.
          transcript.parentNode.hidden = !data.transcript_by_mail;
          transcript.checked = !!data.transcript_wanted;
          transcript.disabled = !!data.transcript_wanted;
        }
        showState(data.state, data.agent);
        if (data.state !== "ended") text.focus();
      } else if (data.type === "message") {
        addMessage(data);
      } else if (data.type === "typing") {
        typing.textContent = words("typing").replace("{name}", data.name);
        clearTimeout(typingTimer);
        typingTimer = setTimeout(function () { typing.textContent = ""; }, 6000);
      } else if (data.type === "state") {
        showState(data.state, data.agent);
      } else if (data.type === "error") {
        if (!room.hidden) {
          status.textContent = data.message;
        } else {
          startError.textContent = data.message;
          startError.hidden = false;
        }
        if (data.message === "That chat does not exist.") storeKey(null);
      }
    };
    socket.onclose = function () {
      socket = null;
      var key = storedKey();
      if (key && state !== "ended") {
        status.textContent = words("reconnecting");
        setTimeout(function () { resume(key); }, retry);
        retry = Math.min(retry * 2, 15000);
      }
    };
  }

  function resume(key) {
    connect(function () { socket.send(JSON.stringify({ type: "resume", key: key })); });
  }

  start.addEventListener("submit", function (event) {
    event.preventDefault();
    startError.hidden = true;
    var field = function (name) { var input = start.elements[name]; return input ? input.value : ""; };
    var department = parseInt(field("department"), 10);
    var command = {
      type: "start",
      name: field("name"),
      email: field("email"),
      message: field("message"),
      ticket: field("ticket") || null,
      page: new URLSearchParams(location.search).get("page") || document.referrer || location.href
    };
    if (!isNaN(department)) command.department = department;
    var go = function () { socket.send(JSON.stringify(command)); };
    if (socket && socket.readyState === 1) go(); else connect(go);
  });

  sendForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var body = text.value.trim();
    if (!body || !socket || socket.readyState !== 1) return;
    socket.send(JSON.stringify({ type: "message", body: body }));
    text.value = "";
  });
  text.addEventListener("input", function () {
    var now = Date.now();
    if (now - typedAt > 2500 && socket && socket.readyState === 1) {
      typedAt = now;
      socket.send(JSON.stringify({ type: "typing" }));
    }
  });
  text.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      sendForm.requestSubmit();
    }
  });
  if (fileInput) {
    fileInput.addEventListener("change", function () {
      var file = fileInput.files && fileInput.files[0];
      var key = storedKey();
      if (!file || !key) return;
      var form = new FormData();
      form.append("key", key);
      form.append("file", file, file.name);
      status.textContent = words("file-sending").replace("{name}", file.name);
      fetch("/chat/files", { method: "POST", body: form, credentials: "omit" }).then(function (answer) {
        if (answer.ok) { showState(state, currentAgent); return; }
        return answer.json().then(function (problem) {
          status.textContent = words("file-failed").replace("{reason}", problem.message || answer.status);
        });
      }).catch(function () {
        status.textContent = words("file-failed").replace("{reason}", words("reconnecting"));
      });
      fileInput.value = "";
    });
  }
  if (transcript) {
    transcript.addEventListener("change", function () {
      if (transcript.checked && socket && socket.readyState === 1) {
        socket.send(JSON.stringify({ type: "transcript" }));
        transcript.disabled = true;
      }
    });
  }

  function end() { if (socket && socket.readyState === 1) socket.send(JSON.stringify({ type: "end" })); }
  endButton.addEventListener("click", end);
  leave.addEventListener("click", end);

  var key = storedKey();
  if (key) resume(key); else start.hidden = false;
})();
