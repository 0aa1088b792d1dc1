// Motion on a slow renderer: once the map's frames are found slow while it moves (the median
// of the last intervals between frames drawn while it moved over ``slowFrameMs``: a software
// renderer, where a frame of the overview costs 50-150 ms), the map is no longer drawn again
// at each step of a movement. A copy of the last frame drawn (``still``, a 2D canvas over the
// map's, which is transparent meanwhile) is moved and scaled on the page instead (a CSS transform,
// which the browser composites without drawing anything), so that a drag or a zoom follows
// the hand at the screen's rate; the map is drawn anew when the movement ends, or when it
// pauses (``pauseMs`` without a step), and shown instead of the copy in that same frame. On a
// graphics processor frames are fast and nothing changes.
//
// Only the drawing is left out: MapLibre still runs every step of the movement (the camera,
// the tiles it will need, the events), so the map is exactly where a drawn frame would have
// put it. The map's own canvas is never moved: MapLibre reads the mouse relative to it.
// The transform maps the last frame drawn onto the camera of now: a point drawn at pixel
// (x, y) is now at ``project(lngLat)``; with no rotation or pitch (the dashboard allows
// neither) that is ``translate(corner) scale(2 ** dz)``, where ``corner`` is where the last
// frame's top-left corner is now. The copy is taken right after a frame is drawn (while its
// pixels can still be read), and only once frames are slow: a few milliseconds a movement.

export class SlidingMotion {
  constructor(map, { slowFrameMs = 50, pauseMs = 300 } = {}) {
    this.map = map;
    this.slowFrameMs = slowFrameMs;
    this.pauseMs = pauseMs;
    this.slow = false;
    this.moving = false;
    this.gaps = [];  // the last intervals between frames drawn while moving (ms)
    this.last = null;
    this.drawn = null;  // the camera of the frame in ``still``: top-left corner, zoom, bearing
    this.transform = "";  // how ``still`` is moved now ("": the map's canvas is shown)
    this.draws = 0;  // frames drawn (tests read it)
    this.slides = 0;  // frames shown by moving the copy of the last one drawn
    this.pause = null;
    this.forceDraw = false;
    this.still = document.createElement("canvas");
    this.still.className = "map-still";
    this.still.style.display = "none";
    map.getCanvasContainer().appendChild(this.still);
    map.on("movestart", () => { this.moving = true; });
    map.on("moveend", () => this.ended());
    map.on("render", () => this.timed());
    this.wrap();
    map.on("webglcontextrestored", () => this.wrap());  // MapLibre makes a new painter then
  }

  // Every frame goes through here instead of straight to MapLibre's painter.
  wrap() {
    const painter = this.map.painter;
    const draw = painter.render.bind(painter);
    painter.render = (style, options) => {
      if (this.sliding()) {
        this.slide();
        return;
      }
      draw(style, options);
      this.draws += 1;
      this.forceDraw = false;
      if (this.slow) this.keep();
      this.show("");
    };
  }

  sliding() {
    if (!this.slow || !this.moving || this.forceDraw || this.drawn === null) return false;
    return this.map.getBearing() === this.drawn.bearing;
  }

  slide() {
    const s = 2 ** (this.map.getZoom() - this.drawn.zoom);
    const at = this.map.project(this.drawn.corner);
    const px = (v) => Math.round(v * 100) / 100;  // within a hundredth of a pixel
    this.show(`translate(${px(at.x)}px, ${px(at.y)}px) scale(${s})`);
    this.slides += 1;
    clearTimeout(this.pause);
    this.pause = setTimeout(() => this.drawNow(), this.pauseMs);
  }

  // The copy moved by ``transform`` over the map's canvas (transparent meanwhile), or ("")
  // the map's canvas itself.
  show(transform) {
    if (transform === this.transform) return;
    this.transform = transform;
    this.still.style.transform = transform;
    this.still.style.display = transform ? "block" : "none";
    // transparent, not hidden: the mouse's events still go to the map's canvas
    this.map.getCanvas().style.opacity = transform ? "0" : "";
  }

  // Copy the frame just drawn (its pixels are readable until the browser shows it).
  keep() {
    const canvas = this.map.getCanvas();
    if (this.still.width !== canvas.width || this.still.height !== canvas.height) {
      this.still.width = canvas.width;
      this.still.height = canvas.height;
    }
    this.still.style.width = canvas.style.width;
    this.still.style.height = canvas.style.height;
    const ctx = this.still.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(canvas, 0, 0);
    this.drawn = { corner: this.map.unproject([0, 0]), zoom: this.map.getZoom(),
      bearing: this.map.getBearing() };
  }

  drawNow() {
    this.forceDraw = true;
    this.map.triggerRepaint();
  }

  // The intervals between frames while the map moves and is drawn at each step; found
  // slow, the frame just drawn is kept for the rest of the movement.
  timed() {
    if (this.slow || !this.moving) return;
    const t = performance.now();
    if (this.last !== null) this.gaps = [...this.gaps.slice(-8), t - this.last];
    this.last = t;
    if (this.gaps.length < 3) return;
    const sorted = [...this.gaps].sort((x, y) => x - y);
    if (sorted[sorted.length >> 1] > this.slowFrameMs) {
      this.slow = true;
      this.keep();
    }
  }

  ended() {
    this.moving = false;
    this.last = null;
    clearTimeout(this.pause);
    if (this.slow) this.map.triggerRepaint();
  }
}
