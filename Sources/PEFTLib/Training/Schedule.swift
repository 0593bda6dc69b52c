// Learning-rate schedules with warm-up, as Hugging Face's get_*_schedule_with_warmup
// define them (the study trains with cosine decay after a 3 % warm-up).

import Foundation

/// How the learning rate moves over a run's steps.
public enum LearningRateSchedule: Sendable, Equatable, Codable {
    /// The same rate at every step.
    case constant
    /// Linear warm-up over the first `warmupRatio` of the steps, then constant.
    case constantWithWarmup(warmupRatio: Double)
    /// Linear warm-up, then linear decay to zero at the last step.
    case linear(warmupRatio: Double)
    /// Linear warm-up, then half a cosine down to zero at the last step.
    case cosine(warmupRatio: Double)

    /// The kind as the language names it (`schedule: .constant`, `.linear`, `.cosine`); a warm-up
    /// is a separate argument.
    public var name: String {
        switch self {
        case .constant, .constantWithWarmup: return "constant"
        case .linear: return "linear"
        case .cosine: return "cosine"
        }
    }

    /// Whether the rate falls to zero at the last step (linear and cosine).
    public var decays: Bool {
        switch self {
        case .constant, .constantWithWarmup: return false
        case .linear, .cosine: return true
        }
    }

    /// The multiplier of the base rate at `step` (0-based) of `totalSteps`; a decaying
    /// schedule stays at zero past its last step.
    public func factor(step: Int, totalSteps: Int) -> Double {
        let total = max(1, totalSteps)
        if decays && step >= total { return 0 }
        func warmupSteps(_ ratio: Double) -> Int { Int((ratio * Double(total)).rounded(.up)) }
        switch self {
        case .constant:
            return 1
        case .constantWithWarmup(let ratio):
            let w = warmupSteps(ratio)
            return step < w ? Double(step) / Double(max(1, w)) : 1
        case .linear(let ratio):
            let w = warmupSteps(ratio)
            if step < w { return Double(step) / Double(max(1, w)) }
            return max(0, Double(total - step) / Double(max(1, total - w)))
        case .cosine(let ratio):
            let w = warmupSteps(ratio)
            if step < w { return Double(step) / Double(max(1, w)) }
            let progress = Double(step - w) / Double(max(1, total - w))
            return max(0, 0.5 * (1 + cos(Double.pi * progress)))
        }
    }
}
