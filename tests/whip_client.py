"""A WHIP publisher that is not a browser: aiortc (an independent WebRTC
stack in Python, from PyPI) publishes a media file to a WHIP URL, keeps
publishing, ends with DELETE and prints one JSON line:
  {"status", "location", "connection_state", "codecs", "delete_status", "failure"}

Usage: python whip_client.py <WHIP URL> <stream key> <media file> <seconds> [vp8|h264]
"""

import asyncio
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer


def request(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read().decode()


def negotiated_codecs(answer):
    """The first (chosen) codec of each media section of an SDP answer."""
    codecs, first_pt, kind = [], None, None
    for line in answer.splitlines():
        if line.startswith("m="):
            fields = line[2:].split()
            kind, first_pt = fields[0], fields[3] if len(fields) > 3 else None
        elif first_pt and line.startswith(f"a=rtpmap:{first_pt} "):
            codecs.append(f"{kind}/{line.split()[1].split('/')[0]}")
    return codecs


async def publish(url, key, media, seconds, codec):
    report = {"status": None, "location": None, "connection_state": None,
              "codecs": [], "delete_status": None, "failure": None}
    # No STUN server: loopback only (aiortc would use a public one by default).
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    player = MediaPlayer(media)
    video = pc.addTransceiver(player.video, direction="sendonly")
    pc.addTransceiver(player.audio, direction="sendonly")
    wanted = [c for c in RTCRtpSender.getCapabilities("video").codecs
              if c.mimeType.lower() in (f"video/{codec}", "video/rtx")]
    video.setCodecPreferences(wanted)
    await pc.setLocalDescription(await pc.createOffer())
    status, headers, body = await asyncio.to_thread(
        request, "POST", url, pc.localDescription.sdp.encode(),
        {"Content-Type": "application/sdp", "Authorization": f"Bearer {key}"})
    report["status"] = status
    if status != 201:
        report["failure"] = f"POST answered {status}: {body}"
        return report
    location = urllib.parse.urljoin(url, headers.get("Location") or "")
    report["location"] = location
    await pc.setRemoteDescription(RTCSessionDescription(sdp=body, type="answer"))
    for _ in range(150):
        if pc.connectionState in ("connected", "failed", "closed"):
            break
        await asyncio.sleep(0.1)
    report["connection_state"] = pc.connectionState
    if pc.connectionState != "connected":
        report["failure"] = f"not connected: {pc.connectionState}"
    else:
        await asyncio.sleep(seconds)
        report["codecs"] = negotiated_codecs(body)
        report["delete_status"], _, _ = await asyncio.to_thread(request, "DELETE", location)
    await pc.close()
    return report


def main():
    url, key, media, seconds = sys.argv[1:5]
    codec = sys.argv[5] if len(sys.argv) > 5 else "vp8"
    report = asyncio.run(publish(url, key, media, float(seconds), codec))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
