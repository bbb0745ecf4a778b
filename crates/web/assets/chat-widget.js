// Ferrodesk's chat for other sites: <script src="https://HELPDESK/chat/widget.js" async>.
// It adds a button; the chat itself opens in a frame of the helpdesk's own
// page (/chat?embedded=1), so this site's scripts can read nothing of it and
// the helpdesk lets only the sites its admin lists frame it. The server
// wraps this file in a function given `look`: the button's words and
// colour from Admin → Chat (a data-label or data-colour attribute on the
// script tag overrides them).
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || document.getElementById("ferrodesk-chat-button")) return;
  var origin = new URL(script.src).origin;
  var label = script.getAttribute("data-label") || look.label || "Chat with us";
  var open = false;
  var frame = null;

  var button = document.createElement("button");
  button.id = "ferrodesk-chat-button";
  button.type = "button";
  button.textContent = label;
  button.setAttribute("aria-expanded", "false");
  var style = button.style;
  style.position = "fixed";
  style.right = "16px";
  style.bottom = "16px";
  style.zIndex = "2147483000";
  style.padding = "12px 18px";
  style.border = "0";
  style.borderRadius = "24px";
  var colour = script.getAttribute("data-colour") || look.colour || "#1f5fbf";
  style.background = colour;
  style.color = readableOn(colour);
  style.font = "600 15px system-ui, sans-serif";
  style.boxShadow = "0 2px 8px rgba(0,0,0,.25)";
  style.cursor = "pointer";

  // Black or white, whichever reads better on the button's colour.
  function readableOn(hex) {
    var match = /^#([0-9a-f]{6})$/i.exec(hex);
    if (!match) return "#fff";
    var value = parseInt(match[1], 16);
    var channel = function (shift) {
      var c = ((value >> shift) & 255) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    };
    var light = 0.2126 * channel(16) + 0.7152 * channel(8) + 0.0722 * channel(0);
    return (light + 0.05) / 0.05 > 1.05 / (light + 0.05) ? "#000" : "#fff";
  }

  function place() {
    if (!frame) return;
    var phone = window.innerWidth < 480;
    frame.style.width = phone ? "100vw" : "380px";
    frame.style.height = phone ? "calc(100vh - 72px)" : "560px";
    frame.style.right = phone ? "0" : "16px";
    frame.style.bottom = "72px";
  }

  button.addEventListener("click", function () {
    open = !open;
    button.setAttribute("aria-expanded", String(open));
    if (!frame) {
      frame = document.createElement("iframe");
      frame.src = origin + "/chat?embedded=1&page=" + encodeURIComponent(location.href);
      frame.title = label;
      frame.style.position = "fixed";
      frame.style.zIndex = "2147483000";
      frame.style.border = "1px solid #d9dee4";
      frame.style.borderRadius = "8px";
      frame.style.background = "#fff";
      frame.style.boxShadow = "0 4px 16px rgba(0,0,0,.2)";
      place();
      window.addEventListener("resize", place);
      document.body.appendChild(frame);
    }
    frame.style.display = open ? "block" : "none";
  });
  document.body.appendChild(button);
})();
