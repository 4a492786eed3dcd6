// The live execution view: progressive enhancement of the server-rendered execution page. Without it
// the page is right as of its rendering; with it, the page follows the execution over a WebSocket
// (designer/consumers.py): new history rows (rendered by the server with the page's own row template),
// the graph's state status classes (the drawing is never laid out again), the status badge and count,
// and, when the status changes, the summary regions fetched again from the page itself. After a drop it
// reconnects with back-off and asks for what came after the last event it has, so it converges to the
// database.

const MAX_ROWS = 2000; // history rows kept in the table; older live rows give way to a "not shown" row
const FINAL_CLOSE_CODES = new Set([4400, 4401, 4403, 4404]);
const STATUS_CLASS_PREFIX = "state-status-";

function setStatusClass(element, status) {
  for (const name of [...element.classList]) {
    if (name.startsWith(STATUS_CLASS_PREFIX)) element.classList.remove(name);
  }
  element.classList.add(STATUS_CLASS_PREFIX + status);
}

export class LiveExecution {
  constructor(root) {
    this.root = root;
    this.url = new URL(root.dataset.liveUrl, window.location.href);
    this.url.protocol = this.url.protocol === "https:" ? "wss:" : "ws:";
    this.seq = Number(root.dataset.liveAfter || 0);
    this.status = root.dataset.liveInitialStatus;
    this.retry = 0;
    this.hidden = 0;
    this.messages = 0;
    this.connect();
  }

  connect() {
    const url = new URL(this.url);
    url.searchParams.set("after", String(this.seq));
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.retry = 0;
      document.body.dataset.live = "connected";
    });
    socket.addEventListener("message", (message) => this.receive(JSON.parse(message.data)));
    socket.addEventListener("close", (event) => {
      document.body.dataset.live = "closed";
      if (FINAL_CLOSE_CODES.has(event.code)) return;
      // Back-off with jitter: 0.5 s, 1 s, 2 s … at most 15 s; a server restart is not stormed.
      const delay = Math.min(15000, 500 * 2 ** this.retry) * (0.75 + Math.random() / 2);
      this.retry += 1;
      window.setTimeout(() => this.connect(), delay);
    });
  }

  receive(message) {
    if (message.type !== "update") return;
    this.messages += 1;
    this.appendEvents(message.events);
    this.colourGraph(message.states);
    const count = document.querySelector("[data-live-count]");
    if (count) count.textContent = String(message.event_count);
    if (message.status !== this.status) {
      this.status = message.status;
      this.refreshSummary(message.status);
    }
    document.body.dataset.liveSeq = String(this.seq);
  }

  appendEvents(events) {
    if (!events.length) return;
    const body = document.querySelector("[data-live-history]");
    if (!body) return;
    body.closest("[data-live-table]")?.removeAttribute("hidden");
    document.querySelector("[data-live-empty]")?.remove();
    const template = document.createElement("template");
    // Rows rendered server-side by templates/designer/_event_row.html: escaped there, as on the page.
    // A filtered history (?type=, ?state=) takes only the new events that match its filter.
    const { filterType, filterState } = body.dataset;
    const wanted = (event) => event.seq > this.seq && (!filterType || event.type === filterType)
      && (!filterState || event.name === filterState);
    template.innerHTML = events.filter(wanted).map((event) => event.html).join("");
    body.append(template.content);
    this.seq = Math.max(this.seq, events[events.length - 1].seq);
    this.trim(body);
  }

  trim(body) {
    const rows = body.querySelectorAll("tr:not(.more)");
    const excess = rows.length - MAX_ROWS;
    if (excess <= 0) return;
    for (let index = 0; index < excess; index += 1) rows[index].remove();
    this.hidden += excess;
    let note = body.querySelector("tr.more[data-live-hidden]");
    if (!note) {
      note = document.createElement("tr");
      note.className = "more";
      note.dataset.liveHidden = "";
      note.append(document.createElement("td"));
      note.firstChild.colSpan = 5;
      body.prepend(note);
    }
    note.firstChild.textContent = `… ${this.hidden} earlier events not shown here: download the whole history`;
  }

  colourGraph(states) {
    const svg = document.querySelector("[data-graph] svg.graph-svg");
    if (!svg || !states) return;
    for (const node of svg.querySelectorAll("g.state, g.state-group")) {
      const id = node.getAttribute("id") || "";
      const name = id.startsWith("state-") ? id.slice(6) : id.startsWith("group-") ? id.slice(6) : null;
      if (name === null) continue;
      setStatusClass(node, states[name] || "not-entered");
    }
  }

  // The summary (badge, buttons, times, error, output) comes from the page itself, rendered again by the
  // server: one request when the status changes, and no second copy of the templates here.
  async refreshSummary(status) {
    const badge = document.querySelector("[data-live-status]");
    if (badge) {
      badge.className = `status status-${status.toLowerCase()}`;
      badge.textContent = status.charAt(0) + status.slice(1).toLowerCase().replace(/_/g, " ");
    }
    try {
      const response = await fetch(window.location.href, { credentials: "same-origin" });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const region of document.querySelectorAll("[data-live-region]")) {
        const replacement = fresh.querySelector(`[data-live-region="${region.dataset.liveRegion}"]`);
        if (replacement) region.replaceWith(document.importNode(replacement, true));
      }
      document.body.dataset.liveRefreshed = status;
    } catch {
      // The next status change or a reload shows it; the live view itself goes on.
    }
  }
}

const root = document.querySelector("[data-live-url]");
if (root && "WebSocket" in window) window.stepwiseLive = new LiveExecution(root);
