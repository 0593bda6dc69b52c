// Connection files as jupyter_client writes them, and the ones we refuse.

import Foundation
import Kernel
import Testing

@Suite("Connection file")
struct ConnectionInfoTests {
    /// Writes `text` to a fresh temporary file and returns its path.
    private func write(_ text: String) throws -> String {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("peftlab-test-kernel-\(UUID().uuidString).json")
        try Data(text.utf8).write(to: url)
        return url.path
    }

    private func load(_ text: String) throws -> ConnectionInfo {
        let path = try write(text)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try ConnectionInfo.load(path: path)
    }

    @Test("a file written by jupyter_client")
    func sample() throws {
        let info = try load("""
            {
              "shell_port": 53794,
              "iopub_port": 53795,
              "stdin_port": 53796,
              "control_port": 53797,
              "hb_port": 53798,
              "ip": "127.0.0.1",
              "key": "a0436f6c-1916-498b-8eb9-e81ab9368e84",
              "transport": "tcp",
              "signature_scheme": "hmac-sha256",
              "kernel_name": "peftlab",
              "jupyter_session": "/home/u/notebook.ipynb"
            }
            """)
        #expect(info == ConnectionInfo(transport: "tcp", ip: "127.0.0.1", shellPort: 53794, iopubPort: 53795,
                                       stdinPort: 53796, controlPort: 53797, hbPort: 53798,
                                       key: "a0436f6c-1916-498b-8eb9-e81ab9368e84",
                                       signatureScheme: "hmac-sha256", kernelName: "peftlab"))
        #expect(info.endpoint(port: info.shellPort) == "tcp://127.0.0.1:53794")
        #expect(info.endpoint(port: info.hbPort) == "tcp://127.0.0.1:53798")
    }

    @Test("defaults: tcp on 127.0.0.1, hmac-sha256, no key, no kernel name")
    func defaults() throws {
        let info = try load(#"{"shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5}"#)
        #expect(info.transport == "tcp")
        #expect(info.ip == "127.0.0.1")
        #expect(info.signatureScheme == "hmac-sha256")
        #expect(info.key == "")
        #expect(info.kernelName == nil)
        #expect(info.stdinPort == 3)
        #expect(info.controlPort == 4)
    }

    @Test("ipc endpoints are path-port")
    func ipc() throws {
        let info = try load(#"{"transport": "ipc", "ip": "/tmp/kernel-x", "shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5, "key": "k"}"#)
        #expect(info.endpoint(port: 2) == "ipc:///tmp/kernel-x-2")
    }

    @Test("an empty signature scheme is allowed only without a key")
    func emptyScheme() throws {
        let ports = #""shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5"#
        #expect(try load("{\(ports), \"signature_scheme\": \"\", \"key\": \"\"}").key == "")
        #expect(throws: KernelError.self) { try load("{\(ports), \"signature_scheme\": \"\", \"key\": \"k\"}") }
    }

    @Test("refused files", arguments: [
        (#"{"transport": "udp", "shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5}"#, "transport"),
        (#"{"signature_scheme": "hmac-md5", "key": "k", "shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5}"#, "signature_scheme"),
        (#"{"signature_scheme": "hmac-sha512", "shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5}"#, "signature_scheme"),
        (#"{"shell_port": 70000, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5}"#, "shell_port"),
        (#"{"shell_port": 1, "iopub_port": -1, "stdin_port": 3, "control_port": 4, "hb_port": 5}"#, "iopub_port"),
        (#"{"shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 65536}"#, "hb_port"),
        (#"{"shell_port": "1", "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5}"#, "not a valid connection file"),
        (#"{"shell_port": 1.5, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5}"#, "not a valid connection file"),
        (#"{"iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5}"#, "not a valid connection file"),
        (#"{"shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5, "key": 7}"#, "not a valid connection file"),
        ("not json", "not a valid connection file"),
        ("", "not a valid connection file"),
        ("[]", "not a valid connection file"),
    ])
    func refused(_ text: String, _ mentions: String) {
        do {
            _ = try load(text)
            Issue.record("should be refused: \(text)")
        } catch let error as KernelError {
            guard case .connectionFile(let message) = error else { Issue.record("\(error)"); return }
            #expect(message.contains(mentions), "\(message)")
            #expect(error.description.hasPrefix("connection file: "))
        } catch {
            Issue.record("unexpected error type: \(error)")
        }
    }

    @Test("the key never shows in an error")
    func keyNotInErrors() {
        let secret = "s3cr3t-key-value"
        do {
            _ = try load(#"{"transport": "udp", "key": "\#(secret)", "shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5}"#)
            Issue.record("should be refused")
        } catch {
            #expect(!"\(error)".contains(secret))
        }
    }

    @Test("a missing file")
    func missingFile() {
        #expect(throws: KernelError.connectionFile("cannot read /nonexistent/kernel-1.json")) {
            try ConnectionInfo.load(path: "/nonexistent/kernel-1.json")
        }
    }

    @Test("encodes back to the keys jupyter_client uses")
    func encodes() throws {
        let info = ConnectionInfo(shellPort: 1, iopubPort: 2, stdinPort: 3, controlPort: 4, hbPort: 5, key: "k")
        let data = try JSONEncoder().encode(info)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys).isSuperset(of: ["shell_port", "iopub_port", "stdin_port", "control_port", "hb_port",
                                                 "ip", "key", "transport", "signature_scheme"]))
        #expect(try JSONDecoder().decode(ConnectionInfo.self, from: data) == info)
    }
}
