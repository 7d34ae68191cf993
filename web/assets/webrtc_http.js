// What the WHIP publisher and the WHEP player share on the HTTP side of WebRTC: the API's
// error read from a refused offer, and waiting (bounded) for ICE gathering before the offer
// goes out whole (the server is ICE-lite and takes no trickle).
import { ApiError } from './api.js';

/** The API error in a WHIP or WHEP response body (the API's JSON error shape). */
export function errorOf(status, body) {
  let err = {};
  try { err = (JSON.parse(body) || {}).error || {}; } catch (e) { err = {}; }
  return new ApiError(status, err.code || `http_${status}`, err.message || '');
}

/** Resolves once ICE gathering is complete, or after `ms`. */
export function gathered(pc, ms) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') { resolve(); return; }
    pc.addEventListener('icegatheringstatechange', () => { if (pc.iceGatheringState === 'complete') resolve(); });
    setTimeout(resolve, ms);
  });
}
