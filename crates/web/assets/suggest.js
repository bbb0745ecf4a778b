// Suggests knowledge-base articles while a help-center visitor types the
// subject of a new request. Optional: the form works without it.
(function () {
  "use strict";
  var subject = document.getElementById("subject");
  var list = document.getElementById("suggestions");
  if (!subject || !list) { return; }
  var timer = null;
  var asked = "";
  function show(suggestions) {
    while (list.firstChild) { list.removeChild(list.firstChild); }
    suggestions.forEach(function (suggestion) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = suggestion.path;
      link.target = "_blank";
      link.rel = "noopener";
      link.textContent = suggestion.title;
      item.appendChild(link);
      list.appendChild(item);
    });
    list.parentNode.hidden = suggestions.length === 0;
  }
  subject.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var text = subject.value.trim();
      if (text.length < 3 || text === asked) { return; }
      asked = text;
      fetch("/search/suggestions?subject=" + encodeURIComponent(text), { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : { suggestions: [] }; })
        .then(function (body) { if (text === asked) { show(body.suggestions || []); } })
        .catch(function () { show([]); });
    }, 250);
  });
}());
