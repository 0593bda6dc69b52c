// Stage 6: evaluates statements against the session's variables and built-ins.
// Checks for an interrupt at every loop iteration and call; every failure is a
// RuntimeError with a location, never a trap.

/// A variable: its value and whether `var` made it.
struct Variable: Sendable {
    var value: Value
    var mutable: Bool
}

/// The variables of a block or loop body: a few names, searched in order (comparing a few short
/// names is cheaper than hashing one).
struct Scope {
    private(set) var names: [String] = []
    var variables: [Variable] = []

    func slot(of name: String) -> Int? { names.firstIndex(of: name) }

    mutating func set(_ name: String, _ variable: Variable) {
        if let slot = slot(of: name) { variables[slot] = variable } else { names.append(name); variables.append(variable) }
    }

    mutating func removeAll() {
        names.removeAll(keepingCapacity: true)
        variables.removeAll(keepingCapacity: true)
    }
}

/// Evaluates one cell. Globals persist in the session; blocks get local scopes. A class, so that
/// evaluating never copies the interpreter's state (a struct would be copied to call its
/// non-mutating methods from mutating ones).
final class Interpreter {
    var globals: [String: Variable]
    let builtins: [String: Builtin]
    let context: any CallContext
    private var scopes: [Scope] = []

    init(globals: [String: Variable], builtins: [String: Builtin], context: any CallContext) {
        self.globals = globals; self.builtins = builtins; self.context = context
    }

    enum Flow { case normal, breakLoop, continueLoop }

    /// Runs a cell; returns the value of its last statement when that is an expression.
    func run(_ statements: [Stmt]) throws(RuntimeError) -> Value {
        var last: Value = .void
        for (i, statement) in statements.enumerated() {
            if case .expression(let e) = statement, i == statements.count - 1 {
                last = try evaluate(e)
            } else {
                let flow = try execute(statement)
                if flow != .normal {
                    throw RuntimeError(.syntax, "'\(flow == .breakLoop ? "break" : "continue")' outside a loop", at: statement.location)
                }
            }
        }
        return last
    }

    // MARK: - Statements

    private func execute(_ statement: Stmt) throws(RuntimeError) -> Flow {
        try checkCancelled(statement.location)
        switch statement {
        case .binding(let name, let mutable, let expr, let location):
            if builtins[name] != nil {
                throw RuntimeError(.name, "'\(name)' is a built-in function; choose another name", at: location)
            }
            let value: Value
            do { value = try evaluate(expr) } catch {
                // An interrupted call keeps what it made: bound, then the cell fails as interrupted.
                if let kept = error.kept { declare(name, Variable(value: kept.value, mutable: mutable)) }
                throw error
            }
            declare(name, Variable(value: value, mutable: mutable))
        case .assignment(let target, let op, let expr, let location):
            var value: Value
            do { value = try evaluate(expr) } catch {
                if op == "=", let kept = error.kept { try assign(target, kept.value) }
                throw error
            }
            if op != "=" {
                value = try binary(String(op.dropLast()), try evaluate(target), value, location)
            }
            try assign(target, value)
        case .expression(let e):
            _ = try evaluate(e)
        case .ifElse(let condition, let then, let otherwise, _):
            if try truth(condition) {
                return try executeBlock(then)
            } else if let otherwise {
                return try executeBlock(otherwise)
            }
        case .forIn(let name, let sequenceExpr, let body, let location):
            let sequence = try evaluate(sequenceExpr)
            // One scope for the loop, emptied at every iteration (each gets fresh bindings)
            // rather than a new dictionary per iteration.
            scopes.append(Scope())
            defer { scopes.removeLast() }
            switch sequence {
            case .range(let lo, let hi):
                var i = lo
                while i < hi {
                    if try iterate(name, .int(i), body, location) == .breakLoop { break }
                    i += 1
                }
            case .array(let items):
                for item in items {
                    if try iterate(name, item, body, location) == .breakLoop { break }
                }
            case .string(let s):
                for c in s {
                    if try iterate(name, .string(String(c)), body, location) == .breakLoop { break }
                }
            case .dictionary(let pairs):
                for pair in pairs {
                    if try iterate(name, .array([pair.key, pair.value]), body, location) == .breakLoop { break }
                }
            default: throw RuntimeError(.type, "cannot iterate over a \(sequence.typeName)", at: sequenceExpr.location)
            }
        case .whileLoop(let condition, let body, let location):
            while try truth(condition) {
                try checkCancelled(location)
                scopes.append(Scope())
                let flow = try executeBody(body)
                scopes.removeLast()
                if flow == .breakLoop { break }
            }
        case .breakLoop: return .breakLoop
        case .continueLoop: return .continueLoop
        }
        return .normal
    }

    /// One iteration of a `for` loop: binds `name` in the loop's scope (the innermost) and runs the body.
    private func iterate(_ name: String, _ item: Value, _ body: [Stmt], _ location: SourceLocation) throws(RuntimeError) -> Flow {
        try checkCancelled(location)
        let top = scopes.count - 1
        scopes[top].removeAll()
        scopes[top].set(name, Variable(value: item, mutable: false))
        return try executeBody(body)
    }

    private func executeBlock(_ body: [Stmt]) throws(RuntimeError) -> Flow {
        scopes.append(Scope())
        defer { scopes.removeLast() }
        return try executeBody(body)
    }

    private func executeBody(_ body: [Stmt]) throws(RuntimeError) -> Flow {
        for statement in body {
            let flow = try execute(statement)
            if flow != .normal { return flow }
        }
        return .normal
    }

    private func checkCancelled(_ location: SourceLocation) throws(RuntimeError) {
        if context.isCancelled { throw RuntimeError(.interrupted, "the cell was interrupted", at: location) }
    }

    // MARK: - Variables

    private func declare(_ name: String, _ variable: Variable) {
        if scopes.isEmpty { globals[name] = variable } else { scopes[scopes.count - 1].set(name, variable) }
    }

    func lookup(_ name: String) -> Value? {
        var i = scopes.count
        while i > 0 {
            i -= 1
            if let slot = scopes[i].slot(of: name) { return scopes[i].variables[slot].value }
        }
        if let v = globals[name] { return v.value }
        if let b = builtins[name] { return .function(b) }
        return nil
    }

    private func assign(_ target: Expr, _ value: Value) throws(RuntimeError) {
        switch target {
        case .name(let name, let location):
            // One hash per scope looked at: find the slot, then write through its index.
            var i = scopes.count
            while i > 0 {
                i -= 1
                if let slot = scopes[i].slot(of: name) {
                    guard scopes[i].variables[slot].mutable else { throw immutable(name, location) }
                    scopes[i].variables[slot].value = value
                    return
                }
            }
            guard let slot = globals.index(forKey: name) else { throw unknownName(name, location) }
            guard globals.values[slot].mutable else { throw immutable(name, location) }
            globals.values[slot].value = value
        case .subscripted(let base, let args, let location):
            guard args.count == 1 else { throw RuntimeError(.argument, "a subscript takes one index", at: location) }
            var container = try evaluate(base)
            let index = try evaluate(args[0].value)
            switch (container, index) {
            case (.array(var items), .int(let i)):
                guard items.indices.contains(i) else { throw outOfRange(i, items.count, location) }
                items[i] = value
                container = .array(items)
            case (.dictionary(var pairs), _):
                if let k = pairs.firstIndex(where: { $0.key.isEqual(to: index) }) { pairs[k].value = value }
                else { pairs.append((index, value)) }
                container = .dictionary(pairs)
            default:
                throw RuntimeError(.type, "cannot assign through a subscript of a \(container.typeName)", at: location)
            }
            try assign(base, try checkedNesting(container, location))
        default:
            throw RuntimeError(.syntax, "cannot assign to this expression", at: target.location)
        }
    }

    /// Arrays and dictionaries nest at most `Value.maxNesting` deep, so that showing,
    /// comparing and freeing them can never exhaust the stack.
    private func checkedNesting(_ value: Value, _ location: SourceLocation) throws(RuntimeError) -> Value {
        if value.nestingDepth(limit: Value.maxNesting) > Value.maxNesting {
            throw RuntimeError(.value, "arrays and dictionaries may nest at most \(Value.maxNesting) levels deep", at: location)
        }
        return value
    }

    private func immutable(_ name: String, _ location: SourceLocation) -> RuntimeError {
        RuntimeError(.name, "cannot assign to '\(name)': it is a 'let' constant (declare it with 'var' to change it)", at: location)
    }

    func unknownName(_ name: String, _ location: SourceLocation) -> RuntimeError {
        var known = Array(globals.keys) + Array(builtins.keys)
        for scope in scopes { known += scope.names }
        let near = nearestNames(to: name, in: known)
        let hint = near.isEmpty ? "" : "; did you mean " + near.map { "'\($0)'" }.joined(separator: " or ") + "?"
        return RuntimeError(.name, "cannot find '\(name)' in scope\(hint)", at: location)
    }

    private func outOfRange(_ i: Int, _ count: Int, _ location: SourceLocation) -> RuntimeError {
        RuntimeError(.index, "index \(i) is out of range for \(count) element\(count == 1 ? "" : "s")", at: location)
    }

    // MARK: - Expressions

    private func truth(_ e: Expr) throws(RuntimeError) -> Bool {
        let v = try evaluate(e)
        guard case .bool(let b) = v else {
            throw RuntimeError(.type, "a condition must be a Bool, not \(v.typeName) \(v.literal)", at: e.location)
        }
        return b
    }

    func evaluate(_ expr: Expr) throws(RuntimeError) -> Value {
        switch expr {
        case .integer(let n, _): return .int(n)
        case .double(let d, _): return .double(d)
        case .bool(let b, _): return .bool(b)
        case .null: return .null
        case .string(let parts, _):
            var s = ""
            for part in parts {
                switch part {
                case .text(let t): s += t
                case .expression(let e): s += try evaluate(e).printed
                }
                try checkedSize(s, location: expr.location)
            }
            return .string(s)
        case .array(let items, let location):
            var values: [Value] = []
            for item in items { values.append(try evaluate(item)) }
            return try checkedNesting(.array(values), location)
        case .dictionary(let pairs, let location):
            var values: [(key: Value, value: Value)] = []
            for (k, v) in pairs {
                let key = try evaluate(k)
                let value = try evaluate(v)
                if let i = values.firstIndex(where: { $0.key.isEqual(to: key) }) { values[i].value = value }
                else { values.append((key, value)) }
            }
            return try checkedNesting(.dictionary(values), location)
        case .name(let name, let location):
            guard let value = lookup(name) else { throw unknownName(name, location) }
            return value
        case .dotCase(let name, _): return .dotCase(name)
        case .unary(let op, let operand, let location):
            let v = try evaluate(operand)
            switch (op, v) {
            case ("-", .int(let n)):
                guard n != Int.min else { throw RuntimeError(.arithmetic, "integer overflow in -\(n)", at: location) }
                return .int(-n)
            case ("-", .double(let d)): return .double(-d)
            case ("!", .bool(let b)): return .bool(!b)
            default: throw RuntimeError(.type, "'\(op)' cannot be applied to \(v.typeName)", at: location)
            }
        case .binary(let op, let lhs, let rhs, let location):
            if op == "&&" || op == "||" {
                let left = try truth(lhs)
                if op == "&&" && !left { return .bool(false) }
                if op == "||" && left { return .bool(true) }
                return .bool(try truth(rhs))
            }
            return try binary(op, try evaluate(lhs), try evaluate(rhs), location)
        case .call(let calleeExpr, let args, let location):
            let callee = try evaluate(calleeExpr)
            var values: [(label: String?, value: Value)] = []
            for arg in args { values.append((arg.label, try evaluate(arg.value))) }
            try checkCancelled(location)
            guard case .function(let builtin) = callee else {
                throw RuntimeError(.type, "\(callee.typeName) \(callee.literal) is not a function", at: location)
            }
            let bound = try builtin.bind(values, at: location)
            do {
                return try builtin.body(bound, context)
            } catch var error {
                if error.location == nil { error.location = location }
                throw error
            }
        case .member(let baseExpr, let name, let location):
            return try member(try evaluate(baseExpr), name, location)
        case .subscripted(let baseExpr, let args, let location):
            let base = try evaluate(baseExpr)
            guard args.count == 1, args[0].label == nil else {
                throw RuntimeError(.argument, "a subscript takes one unlabeled index", at: location)
            }
            let index = try evaluate(args[0].value)
            switch (base, index) {
            case (.array(let items), .int(let i)):
                guard items.indices.contains(i) else { throw outOfRange(i, items.count, location) }
                return items[i]
            case (.string(let s), .int(let i)):
                guard i >= 0, i < s.count else { throw outOfRange(i, s.count, location) }
                return .string(String(s[s.index(s.startIndex, offsetBy: i)]))
            case (.dictionary(let pairs), _):
                return pairs.first { $0.key.isEqual(to: index) }?.value ?? .null
            case (.object(let o), _):
                do {
                    if let element = try o.element(at: index) { return element }
                } catch var error {
                    if error.location == nil { error.location = location }
                    throw error
                }
                throw RuntimeError(.type, "cannot subscript a \(base.typeName) with a \(index.typeName)", at: location)
            default:
                throw RuntimeError(.type, "cannot subscript a \(base.typeName) with a \(index.typeName)", at: location)
            }
        }
    }

    private func member(_ base: Value, _ name: String, _ location: SourceLocation) throws(RuntimeError) -> Value {
        switch (base, name) {
        case (.array(let a), "count"): return .int(a.count)
        case (.array(let a), "isEmpty"): return .bool(a.isEmpty)
        case (.array(let a), "first"): return a.first ?? .null
        case (.array(let a), "last"): return a.last ?? .null
        case (.string(let s), "count"): return .int(s.count)
        case (.string(let s), "isEmpty"): return .bool(s.isEmpty)
        case (.dictionary(let d), "count"): return .int(d.count)
        case (.dictionary(let d), "keys"): return .array(d.map(\.key))
        case (.dictionary(let d), "values"): return .array(d.map(\.value))
        case (.range(let lo, let hi), "count"):
            let r = hi.subtractingReportingOverflow(lo)
            if r.overflow { throw RuntimeError(.arithmetic, "the range \(lo)..<\(hi) has more elements than an Int can count", at: location) }
            return .int(max(0, r.partialValue))
        case (.object(let o), _):
            if let v = try o.member(name) { return v }
            let near = nearestNames(to: name, in: o.memberNames)
            let hint = near.isEmpty ? "" : "; did you mean " + near.map { "'\($0)'" }.joined(separator: " or ") + "?"
            throw RuntimeError(.name, "\(o.typeName) has no member '\(name)'\(hint)", at: location)
        default:
            throw RuntimeError(.name, "\(base.typeName) has no member '\(name)'", at: location)
        }
    }

    // MARK: - Arithmetic

    /// Refuses a string past `Value.maxStringBytes` (a doubling loop would exhaust memory).
    func checkedSize(_ s: String, location: SourceLocation) throws(RuntimeError) {
        if s.utf8.count > Value.maxStringBytes {
            throw RuntimeError(.value, "a string may hold at most \(Value.maxStringBytes >> 20) MB; this one would hold "
                               + "\(s.utf8.count >> 20) MB", at: location)
        }
    }

    func binary(_ op: String, _ a: Value, _ b: Value, _ location: SourceLocation) throws(RuntimeError) -> Value {
        switch (a, b) {
        case (.int(let x), .int(let y)):
            return try integer(op, x, y, location)
        case (.int, .double), (.double, .int), (.double, .double):
            let x = a.asDouble!, y = b.asDouble!
            switch op {
            case "+": return .double(x + y)
            case "-": return .double(x - y)
            case "*": return .double(x * y)
            case "/": return .double(x / y)
            case "%": return .double(x.truncatingRemainder(dividingBy: y))
            case "<": return .bool(x < y)
            case "<=": return .bool(x <= y)
            case ">": return .bool(x > y)
            case ">=": return .bool(x >= y)
            default: break
            }
        case (.string(let x), .string(let y)):
            switch op {
            case "+":
                let joined = x + y
                try checkedSize(joined, location: location)
                return .string(joined)
            case "<": return .bool(x < y)
            case "<=": return .bool(x <= y)
            case ">": return .bool(x > y)
            case ">=": return .bool(x >= y)
            default: break
            }
        case (.array(let x), .array(let y)) where op == "+":
            guard x.count + y.count <= Value.maxArrayCount else {
                throw RuntimeError(.value, "an array may hold at most \(Value.maxArrayCount) elements; this one would hold "
                                   + "\(x.count + y.count)", at: location)
            }
            return .array(x + y)
        default: break
        }
        switch op {
        case "==": return .bool(a.isEqual(to: b))
        case "!=": return .bool(!a.isEqual(to: b))
        default:
            throw RuntimeError(.type, "'\(op)' cannot combine \(a.typeName) and \(b.typeName)", at: location)
        }
    }

    private func integer(_ op: String, _ x: Int, _ y: Int, _ location: SourceLocation) throws(RuntimeError) -> Value {
        func checked(_ r: (partialValue: Int, overflow: Bool)) throws(RuntimeError) -> Value {
            if r.overflow { throw RuntimeError(.arithmetic, "integer overflow in \(x) \(op) \(y)", at: location) }
            return .int(r.partialValue)
        }
        switch op {
        case "+": return try checked(x.addingReportingOverflow(y))
        case "-": return try checked(x.subtractingReportingOverflow(y))
        case "*": return try checked(x.multipliedReportingOverflow(by: y))
        case "/", "%":
            if y == 0 { throw RuntimeError(.arithmetic, "division by zero in \(x) \(op) \(y)", at: location) }
            return try checked(op == "/" ? x.dividedReportingOverflow(by: y) : x.remainderReportingOverflow(dividingBy: y))
        case "<": return .bool(x < y)
        case "<=": return .bool(x <= y)
        case ">": return .bool(x > y)
        case ">=": return .bool(x >= y)
        case "==": return .bool(x == y)
        case "!=": return .bool(x != y)
        case "..<":
            guard x <= y else { throw RuntimeError(.value, "range \(x)..<\(y) has its upper bound below its lower bound", at: location) }
            return .range(x, y)
        case "...":
            guard x <= y else { throw RuntimeError(.value, "range \(x)...\(y) has its upper bound below its lower bound", at: location) }
            return try checked(y.addingReportingOverflow(1)).rangeFrom(x)
        default:
            throw RuntimeError(.type, "'\(op)' cannot combine Int and Int", at: location)
        }
    }
}

extension Value {
    var asDouble: Double? {
        switch self {
        case .int(let n): return Double(n)
        case .double(let d): return d
        default: return nil
        }
    }
    fileprivate func rangeFrom(_ lower: Int) -> Value {
        if case .int(let upper) = self { return .range(lower, upper) }
        return self
    }
}

extension Stmt {
    var location: SourceLocation {
        switch self {
        case .binding(_, _, _, let l), .assignment(_, _, _, let l), .ifElse(_, _, _, let l),
             .forIn(_, _, _, let l), .whileLoop(_, _, let l), .breakLoop(let l), .continueLoop(let l):
            return l
        case .expression(let e): return e.location
        }
    }
}
