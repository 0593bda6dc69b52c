// The connection file a Jupyter client writes for the kernel it starts:
// transport, address, the five ports and the signing key.

import Foundation

/// Where to bind the kernel's five sockets and how to sign messages.
public struct ConnectionInfo: Codable, Sendable, Equatable {
    public var transport: String
    public var ip: String
    public var shellPort: Int
    public var iopubPort: Int
    public var stdinPort: Int
    public var controlPort: Int
    public var hbPort: Int
    public var key: String
    public var signatureScheme: String
    public var kernelName: String?

    enum CodingKeys: String, CodingKey {
        case transport, ip, key
        case shellPort = "shell_port", iopubPort = "iopub_port", stdinPort = "stdin_port"
        case controlPort = "control_port", hbPort = "hb_port"
        case signatureScheme = "signature_scheme", kernelName = "kernel_name"
    }

    public init(transport: String = "tcp", ip: String = "127.0.0.1", shellPort: Int, iopubPort: Int,
                stdinPort: Int, controlPort: Int, hbPort: Int, key: String,
                signatureScheme: String = "hmac-sha256", kernelName: String? = nil) {
        self.transport = transport; self.ip = ip
        self.shellPort = shellPort; self.iopubPort = iopubPort; self.stdinPort = stdinPort
        self.controlPort = controlPort; self.hbPort = hbPort
        self.key = key; self.signatureScheme = signatureScheme; self.kernelName = kernelName
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        transport = try c.decodeIfPresent(String.self, forKey: .transport) ?? "tcp"
        ip = try c.decodeIfPresent(String.self, forKey: .ip) ?? "127.0.0.1"
        shellPort = try c.decode(Int.self, forKey: .shellPort)
        iopubPort = try c.decode(Int.self, forKey: .iopubPort)
        stdinPort = try c.decode(Int.self, forKey: .stdinPort)
        controlPort = try c.decode(Int.self, forKey: .controlPort)
        hbPort = try c.decode(Int.self, forKey: .hbPort)
        key = try c.decodeIfPresent(String.self, forKey: .key) ?? ""
        signatureScheme = try c.decodeIfPresent(String.self, forKey: .signatureScheme) ?? "hmac-sha256"
        kernelName = try c.decodeIfPresent(String.self, forKey: .kernelName)
        guard transport == "tcp" || transport == "ipc" else {
            throw KernelError.connectionFile("unsupported transport \"\(transport)\" (expected tcp or ipc)")
        }
        guard signatureScheme == "hmac-sha256" || (signatureScheme.isEmpty && key.isEmpty) else {
            throw KernelError.connectionFile("unsupported signature_scheme \"\(signatureScheme)\" (expected hmac-sha256)")
        }
        for (name, port) in [("shell_port", shellPort), ("iopub_port", iopubPort), ("stdin_port", stdinPort),
                             ("control_port", controlPort), ("hb_port", hbPort)]
        where !(0...65535).contains(port) {
            throw KernelError.connectionFile("\(name) \(port) is not a port number")
        }
    }

    /// Reads and validates a connection file.
    public static func load(path: String) throws -> ConnectionInfo {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KernelError.connectionFile("cannot read \(path)")
        }
        do {
            return try JSONDecoder().decode(ConnectionInfo.self, from: data)
        } catch let error as KernelError {
            throw error
        } catch {
            throw KernelError.connectionFile("\(path) is not a valid connection file: \(error)")
        }
    }

    /// The ZeroMQ endpoint of a port: `tcp://127.0.0.1:5555` or `ipc://path-5`.
    public func endpoint(port: Int) -> String {
        transport == "ipc" ? "ipc://\(ip)-\(port)" : "tcp://\(ip):\(port)"
    }
}

/// Errors of the kernel's own making: configuration and sockets (wire-format problems are WireError).
public enum KernelError: Error, CustomStringConvertible, Equatable {
    case connectionFile(String)
    case socket(String)

    public var description: String {
        switch self {
        case .connectionFile(let m): return "connection file: \(m)"
        case .socket(let m): return "socket: \(m)"
        }
    }
}
