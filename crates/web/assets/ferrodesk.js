// Ferrodesk's progressive enhancement for every page; each page works
// without it.
"use strict";

// A form sent back with errors: bring the first error into view (it may be
// far down a long settings page) and put the cursor in the field it names.
document.addEventListener("DOMContentLoaded", () => {
  const error = document.querySelector(".field-error, .error[role=alert]");
  if (!error) {
    return;
  }
  const invalid = error.closest("section, form, .card")?.querySelector("[aria-invalid=true]");
  const box = error.getBoundingClientRect();
  if (box.top < 0 || box.bottom > window.innerHeight) {
    error.scrollIntoView({ block: "center" });
  }
  if (invalid) {
    invalid.focus({ preventScroll: true });
  }
});

// On a phone the admin menu is one row that scrolls sideways: start it at
// the page being shown.
document.addEventListener("DOMContentLoaded", () => {
  const menu = document.querySelector("nav.side-menu");
  const current = menu?.querySelector("[aria-current=page]");
  if (menu && current && menu.scrollWidth > menu.clientWidth) {
    menu.scrollLeft = current.offsetLeft - menu.clientWidth / 2 + current.clientWidth / 2;
  }
});

// "/" puts the cursor in the search box (the search page's own, else the
// header's), unless the agent is typing somewhere already.
document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) {
    return;
  }
  const target = event.target;
  if (target instanceof HTMLElement && (target.isContentEditable || target.closest("input, textarea, select"))) {
    return;
  }
  const box = document.getElementById("search-query") || document.getElementById("nav-search");
  if (box) {
    event.preventDefault();
    box.focus();
    box.select();
  }
});
