// Stepwise's shared browser code: small progressive enhancements, no build step.

/** The CSRF token for fetch() calls (the cookie is HttpOnly; the page carries it in a meta tag). */
export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const units = [
  ["year", 31536000], ["month", 2592000], ["week", 604800],
  ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1],
];

/** "3 minutes ago" for <time datetime="…" data-relative>; the exact time stays in the tooltip. */
export function showRelativeTimes(root = document) {
  for (const el of root.querySelectorAll("time[data-relative]")) {
    const when = new Date(el.dateTime);
    if (Number.isNaN(when.getTime())) continue;
    const seconds = Math.round((when - Date.now()) / 1000);
    const [unit, size] = units.find(([, s]) => Math.abs(seconds) >= s) ?? ["second", 1];
    el.title ||= when.toLocaleString();
    el.textContent = relative.format(Math.round(seconds / size), unit);
  }
}

document.documentElement.classList.add("js");
showRelativeTimes();
