// Errors thrown by tensor operations instead of trapping: a user's kernel session
// must survive a wrong shape typed in a notebook cell.

/// A recoverable failure of a tensor operation, naming the op and the shapes involved.
public enum TensorError: Error, Equatable, CustomStringConvertible, Sendable {
    /// Two operands whose shapes do not fit together.
    case shapeMismatch(op: String, lhs: [Int], rhs: [Int], detail: String = "")
    /// One operand whose shape is not valid for the op.
    case invalidShape(op: String, shape: [Int], detail: String)
    /// A non-shape argument out of range (an index, a probability, a head count).
    case invalidArgument(op: String, detail: String)
    /// Backward called in a way autodiff cannot honour.
    case autodiff(op: String, detail: String)

    public var description: String {
        switch self {
        case let .shapeMismatch(op, lhs, rhs, detail):
            let suffix = detail.isEmpty ? "" : ": \(detail)"
            return "\(op): shape mismatch between \(lhs) and \(rhs)\(suffix)"
        case let .invalidShape(op, shape, detail):
            return "\(op): invalid shape \(shape): \(detail)"
        case let .invalidArgument(op, detail):
            return "\(op): \(detail)"
        case let .autodiff(op, detail):
            return "\(op): \(detail)"
        }
    }
}
