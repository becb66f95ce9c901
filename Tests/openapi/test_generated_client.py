#!/usr/bin/env python3
"""Generates a Python client from a live Parley's /openapi.json with openapi-python-client and
runs a whole integrator's flow through it, every call and field going through the generated code.

The server is `parley demo` on a free port (its built-in model answers the chat, offline). The
flow: workspace, bot, API key; minting on both token routes with every field (the claims are
read back from the token); the chat API, with each Server-Sent Event's data checked against the
document's event schemas; then the operator's reads, revocations and deletions.

Usage: test_generated_client.py PATH/TO/parley
"""

import base64
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request

import jsonschema

import live_server


def claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def sse_events(text):
    events, current = [], {}
    for line in text.split("\n"):
        if line == "":
            if "data" in current:
                events.append(current)
            current = {}
        elif not line.startswith(":") and ":" in line:
            field, value = line.split(":", 1)
            current[field] = value.removeprefix(" ")
    return events


EVENT_SCHEMAS = {"user_message": "UserMessageEvent", "response.started": "ResponseStartedEvent",
                 "response.delta": "ResponseDeltaEvent", "response.completed": "ResponseCompletedEvent",
                 "response.error": "ResponseErrorEvent"}


class Flow:
    def __init__(self, package, base, document):
        self.package, self.base, self.document = package, base, document
        self.api = lambda name: importlib.import_module(f"{package}.api.default.{name}")
        self.models = importlib.import_module(f"{package}.models")
        self.client_module = importlib.import_module(package)

    def client(self, key):
        return self.client_module.AuthenticatedClient(base_url=self.base, token=key, raise_on_unexpected_status=True)

    def call(self, name, client, status, *args, **kwargs):
        """One generated operation; the status must be `status` and the answer its documented model."""
        response = self.api(name).sync_detailed(*args, client=client, **kwargs)
        body = response.content.decode(errors="replace")[:300]
        assert response.status_code == status, f"{name}: {response.status_code} {body}"
        if status < 400 and isinstance(response.parsed, self.models.Error):
            raise AssertionError(f"{name}: parsed as an Error: {body}")
        return response

    def check_events(self, text):
        events = sse_events(text)
        envelope = self.document["components"]["schemas"]["ReplyEvent"]
        registry_root = {"components": self.document["components"]}
        for event in events:
            data = json.loads(event["data"])
            # The envelope (id, a known event name, data one of the event schemas), then the
            # schema for this event's name, so a delta's data cannot pass as another event's.
            jsonschema.validate({"id": event["id"], "event": event.get("event"), "data": data}, {**envelope, **registry_root})
            jsonschema.validate(data, {"$ref": "#/components/schemas/" + EVENT_SCHEMAS[event["event"]], **registry_root})
        return events

    def run(self, admin_key):
        m = self.models
        admin = self.client(admin_key)
        workspace = self.call("create_workspace", admin, 201, body=m.WorkspaceCreate(
            name="Generated", id="gen-ws", allowed_origins=["https://app.example.com"],
            settings=m.WorkspaceSettings.from_dict({"messages_per_minute": 50}))).parsed
        assert workspace.id == "gen-ws" and workspace.settings.messages_per_minute == 50
        self.call("update_workspace", admin, 200, workspace.id, body=m.WorkspaceUpdate(name="Generated Inc."))
        assert self.call("get_workspace", admin, 200, workspace.id).parsed.name == "Generated Inc."
        assert any(w.id == workspace.id for w in self.call("list_workspaces", admin, 200).parsed.data)

        bot = self.call("create_bot", admin, 201, workspace.id, body=m.BotWrite(
            name="Helper", system_prompt="Be brief.", greeting="Hi!", max_output_tokens=300, context_tokens=4000,
            temperature=0.2, is_default=True, theme=m.BotTheme.from_dict({"primary_color": "#1f6feb", "position": "bottom-left"}),
            provider=m.BotWriteProvider(kind=m.BotWriteProviderKind.OPENAI, base_url=self.base + "/demo/v1",
                                        api_key="sk-demo-key-0000", model="parley-demo"))).parsed
        assert bot.provider.api_key_last4 == "0000" and bot.theme.position == m.ThemePosition.BOTTOM_LEFT
        self.call("update_bot", admin, 200, workspace.id, bot.id, body=m.BotWrite(greeting="Hello!"))
        assert self.call("get_bot", admin, 200, workspace.id, bot.id).parsed.greeting == "Hello!"
        assert [b.id for b in self.call("list_bots", admin, 200, workspace.id).parsed.data] == [bot.id]

        created = self.call("create_api_key", admin, 201, workspace.id, body=m.APIKeyCreate(
            name="backend", scope=m.APIKeyCreateScope.TOKENS)).parsed
        assert created.key.startswith("sk_live_")
        assert [k.id for k in self.call("list_api_keys", admin, 200, workspace.id).parsed.data] == [created.id]
        backend = self.client(created.key)

        # Both token routes, every field.
        minted = self.call("generate_embed_token", backend, 200, body=m.GenerateEmbedTokenBody(
            workspace_id=workspace.id, bot_id=bot.id, ttl_seconds=900,
            user_context=m.GenerateEmbedTokenBodyUserContext(id="u-42", email="jane@example.com", name="Jane"),
            metadata=m.GenerateEmbedTokenBodyMetadata.from_dict({"plan": "pro"}))).parsed
        first = claims(minted.embed_token)
        assert (first["sub"], first["email"], first["name"], first["bid"]) == ("u-42", "jane@example.com", "Jane", bot.id), first
        assert first["exp"] - first["iat"] == 900 and first["md"] == {"plan": "pro"}, first
        visitor = self.call("mint_bot_embed_token", backend, 200, bot.id, body=m.MintBotEmbedTokenBody(
            ttl_seconds=600, visitor_id="v-7", visitor_email="v7@example.com", visitor_name="Vera",
            metadata=m.MintBotEmbedTokenBodyMetadata.from_dict({"source": "pricing"}))).parsed.data
        second = claims(visitor.token)
        assert visitor.ttl_seconds == 600 and (second["sub"], second["email"], second["name"]) == ("v-7", "v7@example.com", "Vera")
        assert second["md"] == {"source": "pricing"}, second
        anonymous = self.call("mint_bot_embed_token", backend, 200, bot.id).parsed.data
        assert claims(anonymous.token)["sub"].startswith("anon_")

        # The chat API with the user's token.
        user = self.client(minted.embed_token)
        session = self.call("get_session", user, 200).parsed
        assert session.user.email == "jane@example.com" and session.bot.greeting == "Hello!"
        conversation = self.call("create_conversation", user, 201, body=m.CreateConversationBody(title="Quarterly numbers")).parsed
        assert conversation.title == "Quarterly numbers"
        self.call("rename_conversation", user, 200, conversation.id, body=m.RenameConversationBody(title="Q3"))
        assert self.call("get_conversation", user, 200, conversation.id).parsed.title == "Q3"
        assert [c.id for c in self.call("list_conversations", user, 200).parsed.data] == [conversation.id]

        stream = self.call("send_message", user, 200, conversation.id,
                           body=m.SendMessageBody(content="Hello!", client_message_id="gen-1")).parsed
        events = self.check_events(stream)
        names = [e["event"] for e in events]
        assert names[0] == "user_message" and names[-1] == "response.completed" and "response.delta" in names, names
        reply = json.loads(events[-1]["data"])["message"]
        deltas = "".join(json.loads(e["data"])["delta"] for e in events if e["event"] == "response.delta")
        assert reply["content"] == deltas and reply["status"] == "complete"

        tail = self.call("follow_reply_events", user, 200, conversation.id, reply["id"], after=len(events) - 2).parsed
        assert [e["event"] for e in self.check_events(tail)] == ["response.completed"]
        resumed = self.call("follow_reply_events", user, 200, conversation.id, reply["id"], last_event_id=events[0]["id"]).parsed
        assert len(self.check_events(resumed)) >= 2
        messages = self.call("list_messages", user, 200, conversation.id).parsed.data
        assert [x.role.value for x in messages] == ["user", "assistant"] and messages[1].status == m.MessageStatus.COMPLETE
        assert messages[1].usage.output_tokens > 0 and messages[0].status is None
        self.call("rate_reply", user, 204, conversation.id, reply["id"],
                  body=m.RateReplyBody(rating=m.RateReplyBodyRating.UP, comment="Clear."))
        self.call("cancel_reply", user, 202, conversation.id, reply["id"])

        # The operator's side.
        assert self.call("list_workspace_conversations", admin, 200, workspace.id).parsed.data[0].id == conversation.id
        self.call("get_workspace_conversation", admin, 200, workspace.id, conversation.id)
        link = self.call("create_view_link", admin, 200, workspace.id, conversation.id,
                         body=m.CreateViewLinkBody(view_as="support", ttl_seconds=300)).parsed
        assert "/view/" in link.url
        secret = self.call("get_view_secret", admin, 200, workspace.id).parsed.view_secret
        assert self.call("rotate_view_secret", admin, 200, workspace.id).parsed.view_secret != secret
        export = self.call("export_conversations", admin, 200, workspace.id)
        exported = [json.loads(line) for line in export.parsed.decode().splitlines()]
        assert [c["id"] for c in exported] == [conversation.id], exported
        usage = self.call("get_usage", admin, 200, workspace.id, group_by=m.GetUsageGroupBy.DAY).parsed
        assert sum(row.output_tokens for row in usage.data) == reply["usage"]["output_tokens"]
        audit = self.call("list_audit_events", admin, 200, workspace.id).parsed.data
        assert {"token.issued", "bot.created"} <= {a.type_ for a in audit}, {a.type_ for a in audit}

        assert self.call("revoke_embed_tokens", backend, 200, body=m.RevokeEmbedTokensBody(jti=second["jti"])).parsed.revoked == 1
        assert self.call("revoke_workspace_tokens", admin, 200, workspace.id,
                         body=m.RevokeWorkspaceTokensBody(user_id="u-42")).parsed.revoked == 1
        refused = self.api("get_session").sync_detailed(client=user)
        assert refused.status_code == 401, refused.status_code
        stranger = self.client(anonymous.token)
        self.call("delete_conversation", stranger, 404, conversation.id)
        own = self.call("create_conversation", stranger, 201).parsed
        self.call("delete_conversation", stranger, 204, own.id)
        self.call("get_conversation", stranger, 404, own.id)
        self.call("delete_workspace_conversation", admin, 204, workspace.id, conversation.id)
        self.call("erase_user", admin, 200, workspace.id, "u-42")
        self.call("revoke_api_key", admin, 204, workspace.id, created.id)
        self.call("delete_bot", admin, 204, workspace.id, bot.id)
        self.call("delete_workspace", admin, 204, workspace.id)
        return len(events)


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".build/debug/parley")
    scratch = tempfile.mkdtemp(prefix="parley-gen-")
    server, base, admin = live_server.start(binary, "demo", os.path.join(scratch, "data"))
    try:
        document_path = os.path.join(scratch, "openapi.json")
        with urllib.request.urlopen(base + "/openapi.json", timeout=10) as answer, open(document_path, "wb") as out:
            out.write(answer.read())
        # The generator has no reader for NDJSON (the export); its documented override reads it as bytes.
        config_path = os.path.join(scratch, "generator.json")
        with open(config_path, "w") as config:
            json.dump({"content_type_overrides": {"application/x-ndjson": "application/octet-stream"}}, config)
        generate = [sys.executable, "-c", "from openapi_python_client.cli import app; app()", "generate",
                    "--path", document_path, "--meta", "none", "--config", config_path,
                    "--output-path", os.path.join(scratch, "parley_client")]
        generated = subprocess.run(generate, capture_output=True, text=True, timeout=300)
        if generated.returncode != 0 or "Warning" in generated.stdout:
            sys.exit("openapi-python-client failed:\n" + generated.stdout + generated.stderr)
        sys.path.insert(0, scratch)
        flow = Flow("parley_client", base, json.load(open(document_path)))
        count = flow.run(admin)
        print(f"generated client: a whole flow passed ({count} reply events checked against the document)")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
