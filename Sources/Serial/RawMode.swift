#if canImport(Glibc)
import Glibc
#endif

/// The termios flags of a raw serial line, in one place.
///
/// Every flag that cooked mode sets is cleared (the union of pyserial's and
/// libserialport's lists): no input translation, no output processing, no
/// echo, no signals, no canonical lines. CLOCAL and CREAD are set, HUPCL is
/// cleared so that closing the port does not drop the modem lines.
enum RawMode {
    static let clearedInput = flags(IGNBRK, BRKINT, PARMRK, ISTRIP, INLCR, IGNCR, ICRNL, IXON, IXOFF, IXANY, INPCK, IGNPAR, IUCLC, IMAXBEL)
    static let clearedOutput = flags(OPOST, ONLCR, OCRNL, ONOCR, ONLRET, OLCUC, OFILL)
    static let clearedLocal = flags(ECHO, ECHOE, ECHOK, ECHONL, ICANON, ISIG, IEXTEN, ECHOCTL, ECHOKE, ECHOPRT, TOSTOP)
    static let clearedControl = flags(CSIZE, PARENB, PARODD, CMSPAR, CSTOPB, CRTSCTS, HUPCL)

    static func flags(_ values: any BinaryInteger...) -> tcflag_t {
        values.reduce(0) { $0 | tcflag_t($1) }
    }

    static func apply(_ settings: SerialSettings, readMode: ReadMode = .deadline, to attributes: inout termios, path: String) throws(SerialError) {
        attributes.c_iflag &= ~clearedInput
        attributes.c_oflag &= ~clearedOutput
        attributes.c_lflag &= ~clearedLocal
        attributes.c_cflag &= ~clearedControl
        attributes.c_cflag |= tcflag_t(CLOCAL | CREAD) | (try characterSize(settings.dataBits, path: path))
        switch settings.parity {
        case .none: break
        case .even: attributes.c_cflag |= tcflag_t(PARENB)
        case .odd: attributes.c_cflag |= tcflag_t(PARENB | PARODD)
        case .mark: attributes.c_cflag |= tcflag_t(PARENB | CMSPAR | PARODD)
        case .space: attributes.c_cflag |= tcflag_t(PARENB | CMSPAR)
        }
        if settings.parity != .none { attributes.c_iflag |= tcflag_t(INPCK) }
        switch settings.stopBits {
        case 1: break
        case 2: attributes.c_cflag |= tcflag_t(CSTOPB)
        default: throw SerialError(.configure, path: path, "stop bits must be 1 or 2, not \(settings.stopBits)")
        }
        switch settings.flowControl {
        case .none: break
        case .rtsCts: attributes.c_cflag |= tcflag_t(CRTSCTS)
        case .xonXoff: attributes.c_iflag |= tcflag_t(IXON | IXOFF)
        }
        let (minimum, tenths) = readMode.controlCharacters
        withUnsafeMutableBytes(of: &attributes.c_cc) { controls in
            controls[Int(VMIN)] = minimum
            controls[Int(VTIME)] = tenths
        }
    }

    /// The Bnnn constant of a standard rate, for cfsetspeed; nil for any other rate.
    static func standardSpeed(_ baud: Int) -> speed_t? {
        let rates: [Int: Int32] = [
            50: B50, 75: B75, 110: B110, 134: B134, 150: B150, 200: B200, 300: B300, 600: B600, 1200: B1200,
            1800: B1800, 2400: B2400, 4800: B4800, 9600: B9600, 19200: B19200, 38400: B38400, 57600: B57600,
            115_200: B115200, 230_400: B230400, 460_800: B460800, 500_000: B500000, 576_000: B576000,
            921_600: B921600, 1_000_000: B1000000, 1_152_000: B1152000, 1_500_000: B1500000, 2_000_000: B2000000,
            2_500_000: B2500000, 3_000_000: B3000000, 3_500_000: B3500000, 4_000_000: B4000000,
        ]
        return rates[baud].map { speed_t($0) }
    }

    private static func characterSize(_ bits: Int, path: String) throws(SerialError) -> tcflag_t {
        switch bits {
        case 5: return tcflag_t(CS5)
        case 6: return tcflag_t(CS6)
        case 7: return tcflag_t(CS7)
        case 8: return tcflag_t(CS8)
        default: throw SerialError(.configure, path: path, "data bits must be 5 to 8, not \(bits)")
        }
    }
}
