// The timeline: incidents a day, one row per category, drawn on a canvas, and a brush (two range inputs, or a drag
// on the canvas) choosing whole days. ``onChange({since, until})`` gets epoch seconds (null:
// open-ended), after the brush rests.

import { CATEGORY_COLOURS } from "./map.js";

const DAY = 86400;
const ROWS = 6;  // categories given a row of their own; the others share the last
const LABEL_PX = 84;  // the rows' names, left of the bars

// The timeline's rows: {name, days: Map(day -> count)}, the busiest categories first.
function rowsOf(byCategory) {
  const total = (days) => [...days.values()].reduce((x, y) => x + y, 0);
  const sorted = [...byCategory].sort((x, y) => total(y[1]) - total(x[1]));
  const rows = sorted.slice(0, ROWS).map(([name, days]) => ({ name, days }));
  if (sorted.length > ROWS) {
    const rest = new Map();
    for (const [, days] of sorted.slice(ROWS)) {
      for (const [d, n] of days) rest.set(d, (rest.get(d) || 0) + n);
    }
    rows.push({ name: `${sorted.length - ROWS} more`, days: rest });
  }
  return rows;
}

export function isoSeconds(t) {
  return new Date(t * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

// The day ("YYYY-MM-DD", UTC) of epoch seconds ``t``; each day's text is made once.
const dayText = new Map();
export function isoDay(t) {
  const day = Math.floor(t / DAY);
  let text = dayText.get(day);
  if (text === undefined) {
    text = new Date(day * DAY * 1000).toISOString().slice(0, 10);
    dayText.set(day, text);
  }
  return text;
}

// ISO 8601 text (UTC) of whole epoch seconds ``t``, as the list endpoints write it.
const two = (n) => (n < 10 ? `0${n}` : `${n}`);
export function isoText(t) {
  const s = t - Math.floor(t / DAY) * DAY;
  return `${isoDay(t)}T${two(Math.floor(s / 3600))}:${two(Math.floor(s / 60) % 60)}:` +
    `${two(s % 60)}Z`;
}

export function epoch(text) {
  return Math.floor(Date.parse(text) / 1000);
}

export class Timeline {
  constructor(canvas, from, to, onChange) {
    this.canvas = canvas;
    this.from = from;
    this.to = to;
    this.onChange = onChange;
    this.day0 = 0;
    this.days = 1;
    this.perDay = new Map();
    this.timer = null;
    const changed = () => this.brushed();
    from.addEventListener("input", changed);
    to.addEventListener("input", changed);
    this.dragFrom = null;
    canvas.addEventListener("mousedown", (e) => { this.dragFrom = this.dayAt(e); });
    canvas.addEventListener("mouseup", (e) => {
      if (this.dragFrom === null) return;
      const a = this.dragFrom, b = this.dayAt(e);
      this.dragFrom = null;
      this.from.value = String(Math.min(a, b));
      this.to.value = String(Math.max(a, b) + 1);
      this.brushed();
    });
    window.addEventListener("resize", () => this.draw());
  }

  // The data's extent and counts a day per category, from the incidents' start times (epoch
  // seconds ``t``) and categories.
  setData(incidents) {
    this.perDay = new Map();
    const byCategory = new Map();
    let first = Infinity, last = -Infinity;
    for (const i of incidents) {
      const d = Math.floor(i.t / DAY);
      this.perDay.set(d, (this.perDay.get(d) || 0) + 1);
      if (!byCategory.has(i.category)) byCategory.set(i.category, new Map());
      const days = byCategory.get(i.category);
      days.set(d, (days.get(d) || 0) + 1);
      first = Math.min(first, d);
      last = Math.max(last, d);
    }
    this.rows = rowsOf(byCategory);
    if (!Number.isFinite(first)) {
      const today = Math.floor(Date.now() / 1000 / DAY);
      first = today; last = today;
    }
    this.day0 = first;
    this.days = last - first + 1;
    for (const input of [this.from, this.to]) input.max = String(this.days);
    this.from.value = "0";
    this.to.value = String(this.days);
    this.draw();
  }

  dayAt(event) {
    const rect = this.canvas.getBoundingClientRect();
    const span = Math.max(1, rect.width - LABEL_PX);
    const x = Math.min(Math.max(event.clientX - rect.left - LABEL_PX, 0), span - 1);
    return Math.floor((x / span) * this.days);
  }

  // The brushed period: {since, until} in epoch seconds, null where it is the data's edge.
  period() {
    let a = Number(this.from.value), b = Number(this.to.value);
    if (b <= a) [a, b] = [Math.min(a, b), Math.max(a, b) + (a === b ? 1 : 0)];
    return {
      since: a === 0 ? null : (this.day0 + a) * DAY,
      until: b >= this.days ? null : (this.day0 + b) * DAY - 1,
    };
  }

  // The last second of the data's last day.
  end() {
    return (this.day0 + this.days) * DAY - 1;
  }

  reset() {
    this.from.value = "0";
    this.to.value = String(this.days);
    this.draw();
  }

  brushed() {
    this.draw();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.onChange(this.period()), 150);
  }

  // One row per category (the busiest first, the rest in one row), each day's count as a
  // bar of the category's colour; days outside the brush are pale.
  draw(shown) {
    const c = this.canvas;
    const width = c.clientWidth || c.width;
    c.width = width;
    const ctx = c.getContext("2d");
    ctx.clearRect(0, 0, c.width, c.height);
    const bins = Math.max(1, Math.min(this.days, Math.floor((width - LABEL_PX) / 2)));
    const a = Number(this.from.value) / this.days, b = Number(this.to.value) / this.days;
    const span = shown ? [(shown.since - this.day0 * DAY) / (this.days * DAY),
      (shown.until - this.day0 * DAY) / (this.days * DAY)] : [a, b];
    const rows = this.rows || [];
    const rowH = (c.height - 12) / Math.max(1, rows.length);
    const w = (width - LABEL_PX) / bins;
    ctx.font = "9px sans-serif";
    rows.forEach(({ name, days }, r) => {
      const counts = new Array(bins).fill(0);
      for (const [d, n] of days) {
        counts[Math.min(bins - 1, Math.floor(((d - this.day0) / this.days) * bins))] += n;
      }
      const top = Math.max(1, ...counts);
      const base = 12 + (r + 1) * rowH;
      const colour = CATEGORY_COLOURS[name] || "#444444";
      for (let k = 0; k < bins; k++) {
        if (!counts[k]) continue;
        const mid = (k + 0.5) / bins;
        ctx.globalAlpha = mid >= span[0] && mid <= span[1] ? 1 : 0.25;
        ctx.fillStyle = colour;
        const h = Math.max(1, (counts[k] / top) * (rowH - 1));
        ctx.fillRect(LABEL_PX + k * w, base - h, Math.max(1, w - 0.5), h);
      }
      ctx.globalAlpha = 1;
      ctx.fillStyle = "#556";
      ctx.fillText(name.slice(0, 16), 2, base - 2);
    });
    ctx.fillStyle = "#556";
    ctx.font = "10px sans-serif";
    ctx.fillText(isoSeconds(this.day0 * DAY).slice(0, 10), LABEL_PX, 10);
    const end = isoSeconds((this.day0 + this.days) * DAY - 1).slice(0, 10);
    ctx.fillText(end, width - ctx.measureText(end).width - 2, 10);
  }
}
