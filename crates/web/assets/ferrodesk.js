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

// Snippets in the reply box: typing "/" and a shortcut offers the
// snippets whose shortcut or title starts that way (Tab or Enter inserts
// the highlighted one, arrows move, Escape closes); the Snippets list has
// a filter and inserts at the cursor. Without this script each snippet is
// a button that sends the reply box back with the snippet added.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("body");
  const picker = document.getElementById("snippet-picker");
  const suggestions = document.getElementById("snippet-suggestions");
  const status = document.getElementById("snippet-status");
  if (!box || !picker || !suggestions) {
    return;
  }
  const form = box.form;
  const token = form.querySelector("input[name=csrf_token]")?.value || "";
  const options = Array.from(picker.querySelectorAll("button.snippet-option"));
  const search = document.getElementById("snippet-search");
  let typed = null; // { start, end } of the "/shortcut" being typed
  let active = 0;
  let shown = [];

  const say = (text) => {
    if (status) {
      status.textContent = text;
    }
  };

  // The "/word" just before the cursor, at the start of a line or after a space.
  const shortcutAtCursor = () => {
    const end = box.selectionStart;
    if (end !== box.selectionEnd) {
      return null;
    }
    const before = box.value.slice(0, end);
    const found = /(^|\s)\/([a-z0-9_-]*)$/i.exec(before);
    return found ? { start: end - found[2].length - 1, end, word: found[2].toLowerCase() } : null;
  };

  const insert = async (option, range) => {
    let response;
    try {
      response = await fetch(option.formAction, {
        method: "POST",
        headers: {
          Accept: "application/json",
          "Content-Type": "application/x-www-form-urlencoded",
          "X-CSRF-Token": token,
        },
        body: "",
        credentials: "same-origin",
      });
    } catch {
      response = null;
    }
    if (!response || !response.ok) {
      say("The snippet could not be inserted; try again.");
      return;
    }
    const { text } = await response.json();
    const start = range ? range.start : box.selectionStart;
    const end = range ? range.end : box.selectionEnd;
    box.focus();
    box.setRangeText(text, start, end, "end");
    box.dispatchEvent(new Event("input", { bubbles: true }));
    say(`Inserted ${option.dataset.title}.`);
  };

  const close = () => {
    typed = null;
    shown = [];
    suggestions.hidden = true;
    suggestions.replaceChildren();
    box.removeAttribute("aria-activedescendant");
  };

  const render = () => {
    suggestions.replaceChildren(
      ...shown.map((option, index) => {
        const item = document.createElement("li");
        item.id = `snippet-suggestion-${index}`;
        item.setAttribute("role", "option");
        item.setAttribute("aria-selected", String(index === active));
        const title = document.createElement("strong");
        title.textContent = option.dataset.title;
        const shortcut = document.createElement("code");
        shortcut.textContent = `/${option.dataset.shortcut}`;
        item.append(title, " ", shortcut);
        item.addEventListener("mousedown", (event) => {
          event.preventDefault();
          const range = typed;
          close();
          insert(option, range);
        });
        return item;
      }),
    );
    suggestions.hidden = shown.length === 0;
    if (shown.length) {
      box.setAttribute("aria-activedescendant", `snippet-suggestion-${active}`);
    }
  };

  box.setAttribute("aria-controls", "snippet-suggestions");
  box.setAttribute("aria-autocomplete", "list");
  box.addEventListener("input", () => {
    typed = shortcutAtCursor();
    if (!typed) {
      close();
      return;
    }
    const word = typed.word;
    shown = options
      .filter((option) => option.dataset.shortcut.startsWith(word) || option.dataset.title.toLowerCase().startsWith(word))
      .sort((a, b) => Number(b.dataset.shortcut === word) - Number(a.dataset.shortcut === word))
      .slice(0, 6);
    active = 0;
    render();
    if (shown.length) {
      say(`${shown.length} snippets match; Tab inserts ${shown[0].dataset.title}.`);
    }
  });
  box.addEventListener("keydown", (event) => {
    if (suggestions.hidden || !shown.length) {
      return;
    }
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      active = (active + (event.key === "ArrowDown" ? 1 : shown.length - 1)) % shown.length;
      render();
      say(shown[active].dataset.title);
    } else if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      const option = shown[active];
      const range = typed;
      close();
      insert(option, range);
    } else if (event.key === "Escape") {
      event.preventDefault();
      close();
    }
  });
  box.addEventListener("blur", () => setTimeout(close, 150));

  // The list: a filter, and a click inserts at the cursor.
  if (search) {
    search.hidden = false;
    search.addEventListener("input", () => {
      const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
      for (const option of options) {
        const text = `${option.dataset.title} /${option.dataset.shortcut} ${option.dataset.category}`.toLowerCase();
        option.parentElement.hidden = !words.every((word) => text.includes(word));
      }
    });
    search.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        options.find((option) => !option.parentElement.hidden)?.click();
      }
    });
  }
  for (const option of options) {
    option.addEventListener("click", (event) => {
      event.preventDefault();
      picker.open = false;
      insert(option, null);
    });
  }
});

// The ticket list: tick tickets (Shift-click ticks the range from the last
// one), tick the whole page, and see the count on the bulk bar; j and k
// move a cursor along the rows, x ticks the row at the cursor and Enter
// opens it.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("bulk-form");
  const table = document.getElementById("tickets");
  if (!form || !table) {
    return;
  }
  const boxes = () => Array.from(table.querySelectorAll("tbody input[name=ticket]"));
  const pickAll = document.getElementById("pick-all");
  const bar = document.getElementById("bulk-bar");
  const count = document.getElementById("bulk-count");
  const allMatching = document.getElementById("all-matching");
  const plain = count ? count.textContent : "";
  let last = null;
  let cursor = -1;

  const refresh = () => {
    const ticked = boxes().filter((box) => box.checked);
    for (const box of boxes()) {
      box.closest("tr").classList.toggle("picked", box.checked);
    }
    if (pickAll) {
      pickAll.checked = ticked.length > 0 && ticked.length === boxes().length;
      pickAll.indeterminate = ticked.length > 0 && ticked.length < boxes().length;
    }
    if (count) {
      count.textContent = allMatching?.checked
        ? "Every ticket this list holds is selected: choose what to do"
        : ticked.length
          ? `${ticked.length} selected: choose what to do`
          : plain;
    }
    if (bar) {
      bar.toggleAttribute("data-picked", ticked.length > 0 || Boolean(allMatching?.checked));
    }
  };

  if (pickAll) {
    pickAll.hidden = false;
    pickAll.addEventListener("change", () => {
      for (const box of boxes()) {
        box.checked = pickAll.checked;
      }
      refresh();
    });
  }
  allMatching?.addEventListener("change", refresh);
  // Live updates swap the rows in: mark the ticked ones again.
  table.addEventListener("rows-replaced", () => {
    cursor = -1;
    refresh();
  });
  table.addEventListener("click", (event) => {
    const box = event.target;
    if (!(box instanceof HTMLInputElement) || box.name !== "ticket") {
      return;
    }
    const all = boxes();
    if (event.shiftKey && last && last !== box) {
      const [from, to] = [all.indexOf(last), all.indexOf(box)].sort((a, b) => a - b);
      for (const other of all.slice(from, to + 1)) {
        other.checked = box.checked;
      }
    }
    last = box;
    refresh();
  });
  // Nothing ticked: say so rather than send an empty form.
  form.addEventListener("submit", (event) => {
    if (!boxes().some((box) => box.checked) && !allMatching?.checked) {
      event.preventDefault();
      if (bar) {
        bar.open = true;
      }
      if (count) {
        count.textContent = "Tick the tickets to change first";
      }
    }
  });

  const rows = () => Array.from(table.querySelectorAll("tbody tr[id^=t-]"));
  const moveTo = (index) => {
    const all = rows();
    if (!all.length) {
      return;
    }
    cursor = Math.max(0, Math.min(all.length - 1, index));
    all.forEach((row, at) => row.classList.toggle("cursor", at === cursor));
    const row = all[cursor];
    row.querySelector("input[name=ticket]")?.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  };
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    const target = event.target;
    const typing = target instanceof HTMLElement
      && (target.isContentEditable || target.closest("textarea, select, input:not([type=checkbox])"));
    if (typing) {
      return;
    }
    const row = rows()[cursor];
    if (event.key === "j") {
      moveTo(cursor + 1);
    } else if (event.key === "k") {
      moveTo(cursor - 1);
    } else if (event.key === "x" && row) {
      const box = row.querySelector("input[name=ticket]");
      box.checked = !box.checked;
      last = box;
      refresh();
    } else if (event.key === "Enter" && row && target instanceof HTMLInputElement && target.name === "ticket") {
      row.querySelector("a.row-link")?.click();
    } else {
      return;
    }
    event.preventDefault();
  });
  refresh();
});

// Live updates (Server-Sent Events from /agent/events). On the ticket
// list, new and changed tickets appear without a reload: the newest page
// is fetched again (at most every two seconds) and its rows and counts
// swapped in, keeping what is ticked; further back, a notice offers the
// newest. On a ticket, a banner says when someone else replied to it or
// changed it.
document.addEventListener("DOMContentLoaded", () => {
  const live = document.getElementById("live");
  if (!live || typeof EventSource === "undefined") {
    return;
  }
  const source = new EventSource(live.dataset.events);
  const describe = (event) => {
    const who = event.actor || "Someone";
    return {
      created: `${who} opened ${event.reference}`,
      replied: `${who} replied to ${event.reference}`,
      noted: `${who} added a note to ${event.reference}`,
      changed: `${who} changed ${event.reference}`,
      merged: `${event.reference} was merged`,
    }[event.kind] || `${event.reference} changed`;
  };

  if (live.dataset.ticket) {
    const banner = document.getElementById("live-banner");
    // A draft kept when the agent chose to see the ticket as it is now.
    const kept = sessionStorage.getItem(`draft:${live.dataset.ticket}`);
    const box = document.getElementById("body");
    if (kept !== null) {
      sessionStorage.removeItem(`draft:${live.dataset.ticket}`);
      if (box && !box.value.trim()) {
        box.value = kept;
      }
    }
    const me = live.dataset.agent;
    // Who else has the ticket open, and who of them is typing.
    const viewers = document.getElementById("viewers");
    let typingShown = null;
    source.addEventListener("presence", (message) => {
      const { agents } = JSON.parse(message.data);
      if (!viewers) {
        return;
      }
      viewers.replaceChildren();
      viewers.hidden = agents.length === 0;
      if (!agents.length) {
        return;
      }
      viewers.append("Also here: ");
      agents.forEach((agent, index) => {
        const chip = document.createElement("span");
        chip.className = "viewer";
        const initials = document.createElement("span");
        initials.className = "avatar";
        initials.setAttribute("aria-hidden", "true");
        initials.textContent = agent.name.split(/\s+/).map((part) => part[0] || "").join("").slice(0, 2).toUpperCase();
        chip.append(initials, agent.name);
        if (agent.typing) {
          const note = document.createElement("em");
          note.className = "typing";
          note.textContent = " is typing a reply…";
          chip.append(note);
        }
        viewers.append(index ? ", " : "", chip);
      });
      clearTimeout(typingShown);
      typingShown = setTimeout(() => {
        for (const note of viewers.querySelectorAll(".typing")) {
          note.remove();
        }
      }, 8000);
    });
    // Tell the others while this agent types (at most every three seconds).
    const token = document.querySelector("#reply-form input[name=csrf_token]")?.value;
    let toldAt = 0;
    box?.addEventListener("input", () => {
      if (!token || Date.now() - toldAt < 3000) {
        return;
      }
      toldAt = Date.now();
      fetch(`/agent/tickets/${live.dataset.ticket}/typing`, {
        method: "POST",
        headers: { "X-CSRF-Token": token, "X-Ferrodesk-Background": "1" },
        credentials: "same-origin",
      }).catch(() => {});
    });
    source.addEventListener("ticket", (message) => {
      const event = JSON.parse(message.data);
      if (event.reference !== live.dataset.ticket || String(event.actor_id) === me || !banner) {
        return;
      }
      banner.replaceChildren(`${describe(event)}. `);
      const reload = document.createElement("a");
      reload.href = window.location.pathname;
      reload.textContent = "Show the ticket as it is now";
      reload.id = "live-reload";
      reload.addEventListener("click", () => {
        const draft = document.getElementById("body");
        if (draft && draft.value.trim()) {
          sessionStorage.setItem(`draft:${live.dataset.ticket}`, draft.value);
        }
      });
      banner.append(reload, " (your draft stays).");
      banner.hidden = false;
    });
    return;
  }

  const table = document.getElementById("tickets");
  const notice = document.getElementById("live-notice");
  if (!table) {
    return;
  }
  const newestPage = live.dataset.newestPage === "true";
  let waiting = null;
  let lastRefresh = 0;
  let changed = new Set();

  const refresh = async () => {
    waiting = null;
    lastRefresh = Date.now();
    const fresh = changed;
    changed = new Set();
    let response;
    try {
      response = await fetch(window.location.href, { headers: { "X-Ferrodesk-Background": "1" }, credentials: "same-origin" });
    } catch {
      return;
    }
    if (!response.ok) {
      return;
    }
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const ticked = new Set(Array.from(table.querySelectorAll("tbody input[name=ticket]:checked"), (box) => box.value));
    const body = page.querySelector("#tickets tbody");
    if (body) {
      for (const box of body.querySelectorAll("input[name=ticket]")) {
        box.checked = ticked.has(box.value);
      }
      for (const row of body.querySelectorAll("tr[id^=t-]")) {
        if (fresh.has(row.id.slice(2))) {
          row.classList.add("fresh");
        }
      }
      table.tBodies[0].replaceWith(body);
      table.dispatchEvent(new Event("rows-replaced", { bubbles: true }));
    }
    for (const selector of [".desk-views .subnav", "#ticket-total"]) {
      const now = page.querySelector(selector);
      const shown = document.querySelector(selector);
      if (now && shown) {
        shown.replaceWith(now);
      }
    }
    if (notice && fresh.size) {
      notice.textContent = fresh.size === 1 ? "1 ticket is new or changed." : `${fresh.size} tickets are new or changed.`;
      notice.hidden = false;
      clearTimeout(notice.hideLater);
      notice.hideLater = setTimeout(() => {
        notice.hidden = true;
      }, 8000);
    }
  };

  const schedule = () => {
    if (waiting) {
      return;
    }
    const wait = Math.max(0, lastRefresh + 2000 - Date.now());
    waiting = setTimeout(refresh, wait);
  };

  source.addEventListener("ticket", (message) => {
    const event = JSON.parse(message.data);
    if (newestPage) {
      changed.add(event.reference);
      schedule();
    } else if (notice) {
      notice.replaceChildren(`${describe(event)}. `);
      const newest = document.createElement("a");
      newest.href = "/agent/tickets" + window.location.search.replace(/([?&])(after|before)=[^&]*/g, "$1");
      newest.textContent = "Show the newest tickets";
      notice.append(newest);
      notice.hidden = false;
    }
  });
  source.addEventListener("reset", () => {
    if (newestPage) {
      schedule();
    }
  });
});

// Keys on agent pages: r and n start a reply or a note on a ticket, ? lists
// every key. Never while the agent types in a field.
document.addEventListener("DOMContentLoaded", () => {
  if (!document.body.classList.contains("staff")) {
    return;
  }
  const keys = [
    ["/", "Search tickets"],
    ["j / k", "Next / previous ticket in the list"],
    ["x", "Tick the ticket at the cursor"],
    ["Shift-click", "Tick a range of tickets"],
    ["Enter", "Open the ticket at the cursor"],
    ["r", "Write a reply on a ticket"],
    ["n", "Write an internal note on a ticket"],
    ["/shortcut in the reply box", "Insert a snippet"],
    ["?", "Show these keys"],
  ];
  let dialog = null;
  const showKeys = () => {
    if (!dialog) {
      dialog = document.createElement("dialog");
      dialog.id = "shortcuts";
      dialog.setAttribute("aria-labelledby", "shortcuts-title");
      const title = document.createElement("h2");
      title.id = "shortcuts-title";
      title.textContent = "Keyboard shortcuts";
      const list = document.createElement("dl");
      list.className = "shortcut-list";
      for (const [key, what] of keys) {
        const term = document.createElement("dt");
        const kbd = document.createElement("kbd");
        kbd.textContent = key;
        term.append(kbd);
        const description = document.createElement("dd");
        description.textContent = what;
        list.append(term, description);
      }
      const close = document.createElement("button");
      close.type = "button";
      close.textContent = "Close";
      close.addEventListener("click", () => dialog.close());
      dialog.append(title, list, close);
      document.body.append(dialog);
    }
    dialog.showModal();
  };
  const write = (kind) => {
    const box = document.getElementById("body");
    const choice = document.getElementById(kind === "note" ? "kind-note" : "kind-reply");
    if (!box) {
      return false;
    }
    if (choice) {
      choice.checked = true;
    }
    box.focus();
    box.scrollIntoView({ block: "center" });
    return true;
  };
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    const target = event.target;
    if (target instanceof HTMLElement && (target.isContentEditable || target.closest("input, textarea, select, dialog"))) {
      return;
    }
    let handled = false;
    if (event.key === "?") {
      showKeys();
      handled = true;
    } else if (event.key === "r") {
      handled = write("reply");
    } else if (event.key === "n") {
      handled = write("note");
    }
    if (handled) {
      event.preventDefault();
    }
  });
});

// A signed-in person without a time zone of their own gets their
// browser's, once (they can change it on their account page).
document.addEventListener("DOMContentLoaded", () => {
  const path = document.body.dataset.zonePath;
  const zone = typeof Intl !== "undefined" ? Intl.DateTimeFormat().resolvedOptions().timeZone : "";
  if (!path || !zone || sessionStorage.getItem("zone-sent")) {
    return;
  }
  sessionStorage.setItem("zone-sent", "1");
  fetch(path, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      "X-CSRF-Token": document.body.dataset.csrf || "",
      "X-Ferrodesk-Background": "1",
    },
    body: new URLSearchParams({ time_zone: zone }),
    credentials: "same-origin",
    redirect: "manual",
  }).catch(() => {});
});

// Trigger actions: each row shows the inputs its action takes (a value,
// a mail's subject and text, a note's text). Without script every input
// shows and the server ignores the ones an action does not take.
document.addEventListener("DOMContentLoaded", () => {
  for (const row of document.querySelectorAll(".action-row")) {
    const kind = row.querySelector("select[name=action_kind]");
    if (!kind) {
      continue;
    }
    const parts = {
      value: row.querySelector("[name=action_value]"),
      subject: row.querySelector("[name=action_subject]"),
      body: row.querySelector("[name=action_body]"),
    };
    const show = () => {
      const option = kind.selectedOptions[0];
      const takes = (option && option.dataset.takes ? option.dataset.takes : "").split(" ");
      for (const [name, input] of Object.entries(parts)) {
        if (input) {
          input.hidden = !takes.includes(name);
        }
      }
      if (parts.value && option && option.dataset.help) {
        parts.value.placeholder = option.dataset.help;
      }
    };
    kind.addEventListener("change", show);
    show();
  }
});
