"""The drill's traffic: users who sign up, sign in, post, edit, delete, follow and read,
about 100 reads to 1 write, and the ledger of every acknowledged write and session,
checked through the API at the end.

Each simulated user belongs to one worker, which runs that user's requests one at a
time, so the last acknowledged state of everything a user owns is well defined. Reads
of acknowledged data that contradict it (a 404 for a live post, a 401 for a live
session) count as errors, like 5xx answers and connection failures."""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from dataclasses import dataclass, field

from tools.drill.http import Connection, Reply, session_cookie

PASSWORD = "drill password"


@dataclass(eq=False)
class User:
    username: str
    id: int = 0
    cookies: list[str] = field(default_factory=list)
    profile: dict[str, str] | None = None
    posts: dict[str, str | None] = field(default_factory=dict)  # id -> body, None once deleted
    follows: dict[int, bool] = field(default_factory=dict)
    busy: bool = False
    uncertain: bool = False  # a write of this user failed: its outcome is unknown

    def live_posts(self) -> list[str]:
        return [pid for pid, body in self.posts.items() if body is not None]


@dataclass
class Counts:
    requests: int = 0
    errors: int = 0
    lost_writes: int = 0
    lost_sessions: int = 0
    writes: int = 0
    detail: dict[str, int] = field(default_factory=dict)

    def note(self, what: str) -> None:
        self.detail[what] = self.detail.get(what, 0) + 1


class Load:
    def __init__(self, port: int, *, workers: int, users_per_worker: int, seed: int) -> None:
        self.port = port
        self.counts = Counts()
        self.users: list[User] = []
        self._owned: list[list[User]] = [[] for _ in range(workers)]
        self._users_per_worker = users_per_worker
        self._rng = random.Random(seed)
        self._tag = secrets.token_hex(2)

    # -- requests ------------------------------------------------------------------

    async def call(
        self, conn: Connection, method: str, path: str, body: object = None, cookie: str | None = None
    ) -> Reply | None:
        """None for a failed request (5xx or no answer): counted as an error."""
        self.counts.requests += 1
        try:
            reply = await conn.request(method, path, body, cookie)
        except (OSError, ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            self.counts.errors += 1
            self.counts.note("connection error")
            return None
        if reply.status >= 500:
            self.counts.errors += 1
            self.counts.note(f"{method} {reply.status}")
            return None
        return reply

    def _contradicts(self, what: str) -> None:
        self.counts.errors += 1
        self.counts.note(what)

    # -- writes --------------------------------------------------------------------

    async def sign_up(self, conn: Connection, worker: int) -> User | None:
        user = User(f"d{self._tag}w{worker}n{len(self._owned[worker])}")
        reply = await self.call(conn, "POST", "/users", {"username": user.username, "password": PASSWORD})
        if reply is None or reply.status != 201:
            return None
        user.id = int(reply.json()["id"])
        self._owned[worker].append(user)
        self.users.append(user)
        await self.sign_in(conn, user)
        return user

    async def sign_in(self, conn: Connection, user: User) -> None:
        reply = await self.call(conn, "POST", "/sessions", {"username": user.username, "password": PASSWORD})
        if reply is not None and reply.status == 200 and (cookie := session_cookie(reply)):
            user.cookies.append(cookie)
        elif reply is not None:
            self._contradicts("sign-in refused")

    async def write(self, conn: Connection, user: User, kind: str) -> None:
        self.counts.writes += 1
        user.busy = True
        try:
            ok = await self._write(conn, user, kind)
            if not ok:
                user.uncertain = True
        finally:
            user.busy = False

    async def _write(self, conn: Connection, user: User, kind: str) -> bool:
        rng, cookie = self._rng, user.cookies[-1]
        live = user.live_posts()
        if kind == "post" or (kind in ("edit", "delete") and not live):
            body = f"post {rng.random():.6f}"
            reply = await self.call(conn, "POST", "/posts", {"body": body}, cookie)
            if reply is not None and reply.status == 201:
                user.posts[str(reply.json()["id"])] = body
            return reply is not None and reply.status == 201
        if kind == "edit":
            post_id, body = rng.choice(live), f"edited {rng.random():.6f}"
            reply = await self.call(conn, "PATCH", f"/posts/{post_id}", {"body": body}, cookie)
            if reply is not None and reply.status == 200:
                user.posts[post_id] = body
            return reply is not None and reply.status == 200
        if kind == "delete":
            post_id = rng.choice(live)
            reply = await self.call(conn, "DELETE", f"/posts/{post_id}", None, cookie)
            if reply is not None and reply.status == 204:
                user.posts[post_id] = None
            return reply is not None and reply.status == 204
        if kind == "profile":
            profile = {"display_name": f"User {rng.randrange(10**6)}", "bio": f"bio {rng.random():.4f}"}
            reply = await self.call(conn, "PUT", "/me/profile", profile, cookie)
            if reply is not None and reply.status == 200:
                user.profile = profile
            return reply is not None and reply.status == 200
        if kind == "sign_in":
            await self.sign_in(conn, user)
            return True
        others = [u for u in self.users if u is not user and u.id]
        if not others:
            return True
        other = rng.choice(others)
        follow = not user.follows.get(other.id, False)
        reply = await self.call(conn, "PUT" if follow else "DELETE", f"/me/following/{other.id}", None, cookie)
        if reply is not None and reply.status == 204:
            user.follows[other.id] = follow
        return reply is not None and reply.status == 204

    # -- reads ---------------------------------------------------------------------

    async def read(self, conn: Connection, me: User) -> None:
        rng = self._rng
        roll = rng.random()
        other = rng.choice(self.users)
        live = other.live_posts()
        if roll < 0.3 and not live:
            roll = 0.4  # nothing of theirs to read: their profile instead
        if roll < 0.3:
            post_id = rng.choice(live)
            reply = await self.call(conn, "GET", f"/posts/{post_id}")
            if reply is not None and reply.status != 200 and not other.busy and other.posts.get(post_id) is not None:
                self._contradicts("live post not found")
        elif roll < 0.5:
            reply = await self.call(conn, "GET", f"/users/{other.id}")
            if reply is not None and reply.status != 200:
                self._contradicts("user not found")
        elif roll < 0.7:
            reply = await self.call(conn, "GET", f"/users/{other.id}/posts")
            if reply is not None and reply.status != 200:
                self._contradicts("timeline not found")
        elif roll < 0.9:
            reply = await self.call(conn, "GET", f"/users/{other.id}/feed")
            if reply is not None and reply.status != 200:
                self._contradicts("feed not found")
        else:
            reply = await self.call(conn, "GET", "/me", None, rng.choice(me.cookies))
            if reply is not None and reply.status != 200:
                self._contradicts("live session refused")

    # -- phases --------------------------------------------------------------------

    async def seed(self) -> None:
        """Each worker signs up its users, who set a profile, post twice and follow."""

        async def seed_worker(worker: int) -> None:
            conn = Connection(self.port)
            try:
                for _ in range(self._users_per_worker):
                    user = await self.sign_up(conn, worker)
                    if user is None:
                        continue
                    for kind in ("profile", "post", "post", "edit", "follow", "follow"):
                        await self.write(conn, user, kind)
            finally:
                await conn.close()

        await asyncio.gather(*(seed_worker(w) for w in range(len(self._owned))))

    async def run(self, stop: asyncio.Event, max_requests: int, max_seconds: float) -> None:
        """The steady mix until ``stop``, bounded by a request count and a time."""
        deadline = time.monotonic() + max_seconds
        kinds = ["post"] * 3 + ["edit"] * 2 + ["delete", "profile", "follow", "follow", "sign_in"]

        async def worker(index: int) -> None:
            conn = Connection(self.port)
            rng = random.Random(index)
            try:
                while not stop.is_set() and self.counts.requests < max_requests and time.monotonic() < deadline:
                    owned = [u for u in self._owned[index] if u.cookies]
                    if not owned:
                        await self.sign_up(conn, index)
                        continue
                    me = rng.choice(owned)
                    if rng.random() < 0.01:
                        if rng.random() < 0.1:
                            await self.sign_up(conn, index)
                        else:
                            await self.write(conn, me, rng.choice(kinds))
                    else:
                        await self.read(conn, me)
            finally:
                await conn.close()

        await asyncio.gather(*(worker(w) for w in range(len(self._owned))))

    async def verify(self) -> None:
        """Every acknowledged write in its last acknowledged state, every session valid."""
        conn = Connection(self.port)
        try:
            for user in self.users:
                await self._verify_user(conn, user)
        finally:
            await conn.close()

    async def _verify_user(self, conn: Connection, user: User) -> None:
        counts = self.counts
        for cookie in user.cookies:
            reply = await self.call(conn, "GET", "/me", None, cookie)
            if reply is not None and (reply.status != 200 or reply.json()["id"] != user.id):
                counts.lost_sessions += 1
        if user.uncertain:
            return
        reply = await self.call(conn, "GET", f"/users/{user.id}")
        if reply is not None and (reply.status != 200 or reply.json().get("profile") != user.profile):
            counts.lost_writes += 1
            counts.note("profile")
        for post_id, body in user.posts.items():
            reply = await self.call(conn, "GET", f"/posts/{post_id}")
            expected = 404 if body is None else 200
            if reply is not None and (reply.status != expected or (body and reply.json()["body"] != body)):
                counts.lost_writes += 1
                counts.note("post")
        live = sorted(user.live_posts(), key=lambda p: p.split("-", 1)[1], reverse=True)[:100]
        reply = await self.call(conn, "GET", f"/users/{user.id}/posts?limit=100")
        if reply is not None and [p["id"] for p in reply.json()["posts"]] != live:
            counts.lost_writes += 1
            counts.note("timeline")
        # No API lists follows: an existing one unfollows (204) and is followed again, a removed one is 404.
        for followee, following in user.follows.items():
            reply = await self.call(conn, "DELETE", f"/me/following/{followee}", None, user.cookies[-1])
            if reply is not None and reply.status != (204 if following else 404):
                counts.lost_writes += 1
                counts.note("follow")
            if following:
                await self.call(conn, "PUT", f"/me/following/{followee}", None, user.cookies[-1])
