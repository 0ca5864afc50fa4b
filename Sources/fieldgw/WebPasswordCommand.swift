import ArgumentParser
import Foundation
import HummingbirdBcrypt

struct WebPasswordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "web-password",
        abstract: "Hash a password for a [[web.user]] entry (bcrypt).",
        discussion: "It reads the password from standard input (one line) and prints the hash to put in password_hash."
    )

    @Option(name: .long, help: "bcrypt's cost: each step doubles the work of a check (4-16).")
    var cost = 12

    func run() throws {
        guard (4...16).contains(cost) else { throw ValidationError("--cost: \(cost) is not 4 to 16") }
        guard let password = readLine(strippingNewline: true), !password.isEmpty else {
            throw ValidationError("give the password on standard input")
        }
        print(Bcrypt.hash(password, cost: UInt8(cost)))
    }
}
