// Starts `synth lsp` for .synth files.  Everything else (diagnostics, hover, completion,
// formatting) is the server's; highlighting is the TextMate grammar in syntaxes/.
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace.getConfiguration("synth").get("server.command", ["synth", "lsp"]);
  client = new LanguageClient(
    "synth",
    "Synth language server",
    { command, args, transport: TransportKind.stdio },
    { documentSelector: [{ scheme: "file", language: "synth" }, { scheme: "untitled", language: "synth" }] }
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
