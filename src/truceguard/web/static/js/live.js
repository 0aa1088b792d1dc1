// The live events (GET /api/v1/events, server-sent events read with fetch so that the
// bearer token goes in the Authorization header): kept open, opened again after a pause
// when it ends (the server cut a reader that fell behind, or restarted), with the view
// listed anew then, since what came in the gap was not streamed.

import { readEvents } from "./api.js";

const FIRST_WAIT_MS = 1000;
const LONGEST_WAIT_MS = 30000;

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

// Follow the stream for ``api``'s user: ``onEvent({event, id, data})`` for every change;
// ``hooks.opened()`` once the server said hello, ``hooks.closed(why)`` when it ended (why:
// the server's message, or ""), ``hooks.missed()`` after a reconnection, ``hooks.refused(err)``
// when the server refuses the user (401, 403: no retry).
export async function follow(api, onEvent, hooks) {
  let wait = FIRST_WAIT_MS;
  let gap = false;
  for (;;) {
    let why = "";
    try {
      await readEvents(api, (e) => {
        if (e.event === "hello") {
          hooks.opened();
          wait = FIRST_WAIT_MS;
          if (gap) hooks.missed();
          gap = false;
        } else if (e.event === "dropped") {
          why = `live updates stopped: ${e.data.message} (${e.data.hint})`;
        } else if (e.event === "reload") {
          hooks.missed();
        } else {
          onEvent(e);
        }
      });
    } catch (err) {
      if (err.status === 401 || err.status === 403) {
        hooks.closed("");
        hooks.refused(err);
        return;
      }
      why = why || `live updates interrupted: ${err.message}`;
    }
    hooks.closed(why);
    gap = true;
    await sleep(wait);
    wait = Math.min(wait * 2, LONGEST_WAIT_MS);
  }
}
