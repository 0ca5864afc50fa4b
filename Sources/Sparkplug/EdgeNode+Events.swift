import Foundation
import Gateway
import MQTT

extension EdgeNode {
    /// A new connection: NBIRTH (with this connection's `bdSeq`, `seq` 0),
    /// a DBIRTH for each device that answers, then what waited in the spool.
    func connected(_ connect: Connect, number: Int) async {
        connected = true
        connection = number
        bdSeq = connect.will.flatMap { dialect.bdSeq(of: $0) } ?? bdSeqs.current
        logger.notice("MQTT: connected, publishing births", metadata: ["event": "mqtt-connected", "bdSeq": "\(bdSeq)"])
        await birth()
        await refreshStatus()
    }

    func disconnected(_ reason: String) {
        connected = false
        for tag in devices.keys { devices[tag]?.born = false }
        // What the broken connection may have lost goes out again, flagged historical.
        spool.putBack(unconfirmed.map(\.sample))
        unconfirmed = []
        logger.warning("MQTT: connection lost: \(reason); keeping data on disk until it is back",
                       metadata: ["event": "mqtt-disconnected"])
        counters.update { status in
            status.connected = false
            status.lastError = reason
            status.queued = spool.count
            status.dropped = spool.dropped
        }
    }

    /// Every birth again, from `seq` 0: on a connection and on a Rebirth command.
    func birth() async {
        seq = 0
        nodeMetrics = currentNodeMetrics()
        nodeMetricsSent = .now
        guard await send(dialect.nodeBirth(bdSeq: bdSeq, metrics: nodeMetrics, seq: nextSeq(), at: Self.now())) else { return }
        for tag in devices.keys.sorted() {
            devices[tag]?.born = false
            guard let tracked = devices[tag], let values = values(of: tracked) else { continue }
            await bear(tag, values, at: Self.now())
        }
    }

    /// A device's DBIRTH, then its samples that waited in the spool.
    private func bear(_ tag: String, _ values: [Double], at: UInt64) async {
        guard let tracked = devices[tag] else { return }
        guard await send(dialect.deviceBirth(sample(tracked, values, at: at, only: nil), seq: nextSeq())) else { return }
        devices[tag]?.born = true
        devices[tag]?.last = values
        await flush(tag)
    }

    /// The spool's samples of a device just born, in order, flagged
    /// historical; they leave it once the broker confirms it has them.
    private func flush(_ tag: String) async {
        var published: Set<Int> = []
        for entry in spool.entries where entry.sample.device == tag {
            guard connected else { break }
            guard await send(dialect.deviceData(entry.sample, seq: nextSeq(), historical: true)) else { break }
            published.insert(entry.id)
        }
        guard !published.isEmpty else { return }
        // Not waited for here: a broker that went silent would hold up every poll until the keepalive.
        Task { [connection] in if await client.confirm(on: connection) { unspool(published) } }
    }

    private func unspool(_ published: Set<Int>) {
        spool.remove(published)
        counters.update { $0.queued = spool.count }
    }

    /// Once the broker confirms it has what was sent live so far, it is no
    /// longer kept for a new connection (asked on a task of its own, as above).
    private func confirmSent() {
        guard let last = unconfirmed.last?.number, last > lastAsked else { return }
        lastAsked = last
        Task { [connection] in if await client.confirm(on: connection) { confirmed(upTo: last) } }
    }

    private func confirmed(upTo last: Int) {
        unconfirmed.removeAll { $0.number <= last }
    }

    /// A poller ended a cycle: each of its devices is born, dies, or publishes what changed.
    func polled(_ poller: ObjectIdentifier, online: Bool, at date: Date) async {
        let at = Self.now(date)
        for tag in devices.keys.sorted() where devices[tag].map({ ObjectIdentifier($0.poller) == poller }) == true {
            guard let tracked = devices[tag] else { continue }
            guard online, let values = values(of: tracked) else {
                if tracked.born, connected { _ = await send(dialect.deviceDeath(device: tag, seq: nextSeq(), at: at)) }
                devices[tag]?.born = false
                continue
            }
            if connected && !tracked.born {
                await bear(tag, values, at: at)
                continue
            }
            // Nothing to compare with (the gateway just started, not connected):
            // during an outage that began before a restart (the spool holds this
            // device), what differs from the spool's latest values is news;
            // otherwise the first values wait for the DBIRTH.
            let changed = changes(tracked, values) ?? unspooled(tracked, values)
            devices[tag]?.last = values
            guard !changed.isEmpty else { continue }
            let data = sample(tracked, values, at: at, only: changed)
            if connected, await send(dialect.deviceData(data, seq: nextSeq(), historical: false)) {
                lastSent += 1
                unconfirmed.append((lastSent, data))
            } else {
                keep(data)
            }
        }
        confirmSent()
    }

    /// A data message that could not go: into the spool, in order.
    private func keep(_ data: Sample) {
        spool.append(data)
        counters.update { $0.queued = spool.count; $0.dropped = spool.dropped }
    }

    /// The members (by index) that moved since last published; nil when there is nothing to compare with.
    private func changes(_ tracked: Tracked, _ values: [Double]) -> [Int]? {
        guard let last = tracked.last, last.count == values.count else { return nil }
        return tracked.device.members.indices.filter { index in
            let (old, new) = (last[index], values[index])
            if old.isNaN && new.isNaN { return false }
            if let deadband = tracked.device.members[index].deadband { return abs(new - old) > deadband || new.isNaN != old.isNaN }
            return new != old
        }
    }

    /// The members (by index) whose value is not the latest the spool holds for them.
    private func unspooled(_ tracked: Tracked, _ values: [Double]) -> [Int] {
        var latest: [String: Double] = [:]
        for entry in spool.entries where entry.sample.device == tracked.device.tag {
            for value in entry.sample.values { latest[value.name] = value.value }
        }
        guard !latest.isEmpty else { return [] }
        return tracked.device.members.indices.filter { latest[tracked.device.members[$0].name] != values[$0] }
    }

    /// A device's members now, if it answered its last polls.
    func values(of tracked: Tracked) -> [Double]? {
        let members = tracked.device.members
        guard let registers = tracked.poller.cached(members.flatMap(\.addresses), maxAge: tracked.device.maxAge) else { return nil }
        return zip(members, RegisterMember.split(registers, among: members)).map { $0.number(from: $1) }
    }

    func sample(_ tracked: Tracked, _ values: [Double], at: UInt64, only: [Int]?) -> Sample {
        let members = tracked.device.members
        let indices = only ?? Array(members.indices)
        return Sample(device: tracked.device.tag, at: at,
                      values: indices.map { MemberValue(name: members[$0].name, type: members[$0].type.name, value: values[$0]) })
    }

    /// Publishes one message at QoS 0: false when there is no connection to take it.
    func send(_ message: Publish) async -> Bool {
        guard connected else { return false }
        do {
            guard try await client.publish(message) else { return false }
        } catch {
            return false
        }
        counters.update { $0.published += 1 }
        return true
    }

    func nextSeq() -> UInt8 {
        defer { seq &+= 1 }
        return seq
    }
}

extension EdgeNode {
    /// Once a second: the devices as the configuration has them now (a
    /// reload may have added or removed some), and the node's own metrics
    /// when a line went up or down, or the period has passed.
    func tick() async {
        await synchronizeDevicesAndDeaths()
        let metrics = currentNodeMetrics()
        let changed = metrics.filter { !nodeMetrics.contains($0) }
        let upChanged = changed.contains { if case .bool = $0.value { true } else { false } }
        if connected, !changed.isEmpty, upChanged || ContinuousClock.now - nodeMetricsSent >= settings.nodeMetricsPeriod {
            if await send(dialect.nodeData(metrics: changed, seq: nextSeq(), at: Self.now())) {
                nodeMetrics = metrics
                nodeMetricsSent = .now
            }
        }
        await refreshStatus()
    }

    func currentNodeMetrics() -> [NodeMetric] {
        source.nodeLines.flatMap { line in
            [NodeMetric(name: "Lines/\(line.name)/Up", value: .bool(line.up)),
             NodeMetric(name: "Lines/\(line.name)/Transactions", value: .count(UInt64(max(0, line.transactions))))]
        }
    }

    /// Devices from the source: new ones are watched (born on their next
    /// poll), removed or changed ones die (and a changed one is born again).
    func synchronizeDevices() {
        _ = updateDevices()
    }

    private func synchronizeDevicesAndDeaths() async {
        for tag in updateDevices() where connected {
            _ = await send(dialect.deviceDeath(device: tag, seq: nextSeq(), at: Self.now()))
        }
        spool.removeAll { devices[$0.device] == nil }
        counters.update { $0.queued = spool.count; $0.dropped = spool.dropped }
    }

    /// The tags of devices that were born and are now gone or changed.
    private func updateDevices() -> [String] {
        let wanted = Dictionary(source.nodeDevices.map { ($0.device.tag, $0) }, uniquingKeysWith: { first, _ in first })
        var dead: [String] = []
        for (tag, tracked) in devices where wanted[tag].map({ $0.device != tracked.device || $0.poller !== tracked.poller }) ?? true {
            if tracked.born { dead.append(tag) }
            devices[tag] = nil
        }
        for (tag, node) in wanted where devices[tag] == nil {
            devices[tag] = Tracked(device: node.device, poller: node.poller)
        }
        observe(Set(devices.values.map { ObjectIdentifier($0.poller) }))
        return dead.sorted()
    }

    /// Watches the cycles of exactly these pollers.
    private func observe(_ pollers: Set<ObjectIdentifier>) {
        for (poller, number) in observing where !pollers.contains(ObjectIdentifier(poller)) { poller.stopObserving(number) }
        observing.removeAll { !pollers.contains(ObjectIdentifier($0.poller)) }
        let feed = self.feed
        for tracked in devices.values where !observing.contains(where: { $0.poller === tracked.poller }) {
            let id = ObjectIdentifier(tracked.poller)
            let number = tracked.poller.observeCycles { online, at in feed.yield(.cycle(id, online: online, at: at)) }
            observing.append((tracked.poller, number))
        }
    }

    func refreshStatus() async {
        let now = await client.currentStatus
        counters.update { status in
            status.connected = now.connected
            status.broker = now.broker.map { "\($0.host):\($0.port)" }
            status.lastError = now.lastError
            status.connections = now.connections
        }
    }
}

extension EdgeNode {
    /// A message from the broker: a Rebirth, or writes (each on its own
    /// task, so that publishing goes on while the line answers).
    func command(_ message: Publish) async {
        let command: Command?
        do {
            command = try dialect.command(message)
        } catch {
            refuse("\(error)")
            return
        }
        switch command {
        case nil: return
        case .rebirth?:
            logger.notice("MQTT: rebirth asked", metadata: ["event": "mqtt-rebirth"])
            // Here, not on a task: the births must not interleave with the data of a poll.
            await birth()
        case .write(let device, let values)?:
            guard let tracked = devices[device] ?? devices.first(where: { $0.key.lowercased() == device.lowercased() })?.value else {
                return refuse("a write to \(device): no such device")
            }
            do {
                let writes = try Self.writes(values, to: tracked.device)
                counters.update { $0.commands += 1 }
                Task { await self.perform(writes, on: tracked.poller, device: tracked.device.tag) }
            } catch {
                refuse("a write to \(device): \(error)")
            }
        }
    }

    /// The registers each named member takes; refused whole when a name is unknown, a member read-only or a value out of range.
    static func writes(_ values: [String: Double], to device: Configuration.Device) throws(CommandError) -> [(RegisterMember, [UInt16])] {
        var writes: [(RegisterMember, [UInt16])] = []
        for (name, value) in values.sorted(by: { $0.key < $1.key }) {
            guard let member = device.members.first(where: { $0.name.lowercased() == name.lowercased() }) else {
                throw CommandError("\(device.tag) has no member \(name)")
            }
            guard member.writable else { throw CommandError("\(device.tag).\(member.name) is read-only") }
            do {
                writes.append((member, try member.registers(for: value)))
            } catch {
                throw CommandError("\(value) does not fit \(device.tag).\(member.name) (\(member.type.name))")
            }
        }
        return writes
    }

    private func perform(_ writes: [(RegisterMember, [UInt16])], on poller: Poller, device: String) async {
        for (member, registers) in writes {
            do {
                try await poller.write(member.address, values: registers)
            } catch {
                return refuse("a write to \(device).\(member.name) failed: \(error)")
            }
        }
    }

    private func refuse(_ reason: String) {
        logger.warning("MQTT: command refused: \(reason)", metadata: ["event": "mqtt-command-refused"])
        counters.update { $0.refusedCommands += 1 }
    }
}
