#if canImport(Glibc)
import Glibc
#endif

/// The multicast addresses an EtherNet/IP device produces to (CIP Vol. 2,
/// 3-5.3): 32 from 239.192.1.0 + 32 × ((host id − 1) mod 1024), the host id
/// being the interface address without its network part.
enum MulticastAddress {
    static let base: UInt32 = 0xEFC0_0100

    /// The group for the `ordinal`th input (mod 32) on the interface by which
    /// `originator` is reached, and that interface's address; nil when no route reaches it.
    static func allocate(toward originator: in_addr, ordinal: Int) -> (group: in_addr, interface: in_addr)? {
        guard let local = localAddress(toward: originator), let mask = netmask(of: local) else { return nil }
        let host = UInt32(bigEndian: local.s_addr) & ~mask
        let first = base &+ (((host &- 1) & 0x3FF) << 5)
        return (in_addr(s_addr: (first + UInt32(ordinal % 32)).bigEndian), local)
    }

    /// The address this host sends from to reach `remote`: the kernel's route, asked by connecting a UDP socket (nothing is sent).
    private static func localAddress(toward remote: in_addr) -> in_addr? {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr = remote
        address.sin_port = UInt16(2222).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return named == 0 ? address.sin_addr : nil
    }

    /// The netmask (host order) of the interface holding `local`.
    private static func netmask(of local: in_addr) -> UInt32? {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return nil }
        defer { freeifaddrs(list) }
        var entry = list
        while let current = entry?.pointee {
            defer { entry = current.ifa_next }
            guard let address = current.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET), let mask = current.ifa_netmask else { continue }
            let ours = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
            guard ours == local.s_addr else { continue }
            return UInt32(bigEndian: mask.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr })
        }
        return nil
    }
}
