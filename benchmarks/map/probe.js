// Injected into both pages before their own scripts (Playwright add_init_script): it only
// watches. Times are performance.now() (ms since the navigation started).
//
// - every fetch: when it was asked, when its headers came, and for each .json() the time to
//   read the body and the time of JSON.parse alone (the wrapper reads the text, then parses:
//   what Response.json() does on the main thread anyway);
// - long tasks (over 50 ms on the main thread);
// - for MapLibre (the global `maplibregl`, caught as its script defines it): every map's
//   'idle' events, every GeoJSON source's setData (source id, features, time), and when each
//   source reports its data loaded afterwards;
(() => {
  const now = () => performance.now();
  const b = {
    fetches: [], longtasks: [], idle: [], setData: [], sourceLoaded: [], maps: 0,
  };
  window.__bench = b;

  const records = new WeakMap();
  const origFetch = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const url = typeof input === "string" ? input : input.url;
    const rec = { url, start: now(), headers: null, readEnd: null, parseEnd: null, chars: 0 };
    b.fetches.push(rec);
    const response = await origFetch(input, init);
    rec.headers = now();
    rec.status = response.status;
    records.set(response, rec);
    return response;
  };
  Response.prototype.json = async function json() {
    const rec = records.get(this);
    const text = await this.text();
    const t1 = now();
    const value = JSON.parse(text);
    const t2 = now();
    if (rec) { rec.readEnd = t1; rec.parseEnd = t2; rec.chars = text.length; }
    return value;
  };

  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) b.longtasks.push([e.startTime, e.duration]);
    }).observe({ type: "longtask", buffered: true });
  } catch (_) { /* no long task API */ }

  function wrapMapLibre(lib) {
    if (!lib || lib.__benchWrapped) return lib;
    lib.__benchWrapped = true;
    const Orig = lib.Map;
    class Map extends Orig {
      constructor(options) {
        super(options);
        b.maps += 1;
        this.on("idle", () => b.idle.push(now()));
        this.on("sourcedata", (e) => {
          if (e.isSourceLoaded && e.sourceDataType !== "metadata") {
            b.sourceLoaded.push([e.sourceId, now()]);
          }
        });
      }
    }
    lib.Map = Map;
    const proto = lib.GeoJSONSource && lib.GeoJSONSource.prototype;
    if (proto && proto.setData) {
      const orig = proto.setData;
      proto.setData = function setData(data, ...rest) {
        const n = data && data.features ? data.features.length : -1;
        b.setData.push([this.id, n, now()]);
        return orig.call(this, data, ...rest);
      };
    }
    if (proto && proto.updateData) {
      const orig = proto.updateData;
      proto.updateData = function updateData(diff, ...rest) {
        b.updateData = b.updateData || [];
        b.updateData.push([this.id, (diff.add || []).length, now()]);
        return orig.call(this, diff, ...rest);
      };
    }
    return lib;
  }
  let held;
  Object.defineProperty(window, "maplibregl", {
    configurable: true,
    get() { return held; },
    set(v) { held = wrapMapLibre(v); },
  });

})();
