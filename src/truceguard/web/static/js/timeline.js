// The timeline: incidents a day drawn on a canvas, and a brush (two range inputs, or a drag
// on the canvas) choosing whole days. ``onChange({since, until})`` gets epoch seconds (null:
// open-ended), after the brush rests.

const DAY = 86400;

export function isoSeconds(t) {
  return new Date(t * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
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

  // The data's extent and counts a day, from the incidents' start times (ISO text).
  setData(incidents) {
    this.perDay = new Map();
    let first = Infinity, last = -Infinity;
    for (const i of incidents) {
      const d = Math.floor(epoch(i.t_start) / DAY);
      this.perDay.set(d, (this.perDay.get(d) || 0) + 1);
      first = Math.min(first, d);
      last = Math.max(last, d);
    }
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
    const x = Math.min(Math.max(event.clientX - rect.left, 0), rect.width - 1);
    return Math.floor((x / rect.width) * this.days);
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

  draw(shown) {
    const c = this.canvas;
    const width = c.clientWidth || c.width;
    c.width = width;
    const ctx = c.getContext("2d");
    ctx.clearRect(0, 0, c.width, c.height);
    const bins = Math.max(1, Math.min(this.days, Math.floor(width / 2)));
    const counts = new Array(bins).fill(0);
    for (const [d, n] of this.perDay) {
      const k = Math.min(bins - 1, Math.floor(((d - this.day0) / this.days) * bins));
      counts[k] += n;
    }
    const top = Math.max(1, ...counts);
    const a = Number(this.from.value) / this.days, b = Number(this.to.value) / this.days;
    const span = shown ? [(shown.since - this.day0 * DAY) / (this.days * DAY),
      (shown.until - this.day0 * DAY) / (this.days * DAY)] : [a, b];
    const w = width / bins;
    for (let k = 0; k < bins; k++) {
      const mid = (k + 0.5) / bins;
      ctx.fillStyle = mid >= span[0] && mid <= span[1] ? "#37474f" : "#c5cad3";
      const h = (counts[k] / top) * (c.height - 2);
      ctx.fillRect(k * w, c.height - h, Math.max(1, w - 0.5), h);
    }
    ctx.fillStyle = "#556";
    ctx.font = "10px sans-serif";
    ctx.fillText(isoSeconds(this.day0 * DAY).slice(0, 10), 2, 10);
    const end = isoSeconds((this.day0 + this.days) * DAY - 1).slice(0, 10);
    ctx.fillText(end, width - ctx.measureText(end).width - 2, 10);
  }
}
