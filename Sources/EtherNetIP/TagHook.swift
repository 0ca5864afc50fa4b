/// Code of a library user's that runs on each access to a tag: computes the
/// value before a read, sees each value read and each value written (cpppo's
/// `Attribute.__getitem__` and `__setitem__`). `elements` are the indices of
/// the tag's elements the request touches (a structure member's request
/// touches the elements holding it).
///
/// Thread-safe by construction: the server calls a tag's hook for one request
/// at a time, however many connections ask at once, so a hook needs no lock
/// for state that belongs to one tag (a hook shared by several tags must
/// still guard what they share). A hook stores values with `tag.set`, never
/// `tag.write` (a write as a client's, which calls the hook: the turn the
/// hook already holds). A hook throwing a `CIPStatus` fails the
/// request with it; the value stays as it was for a read, as written for a write.
public protocol TagHook: Sendable {
    /// Before a read: store the current value in `tag` (`tag.set(...)`) to serve it.
    func willRead(_ tag: Tag, elements: Range<Int>) throws(CIPStatus)
    /// After a read, with the bytes sent.
    func didRead(_ tag: Tag, elements: Range<Int>, bytes: [UInt8])
    /// After a write is stored.
    func didWrite(_ tag: Tag, elements: Range<Int>, bytes: [UInt8])
}

extension TagHook {
    /// Does nothing: the value held is served.
    public func willRead(_ tag: Tag, elements: Range<Int>) throws(CIPStatus) {}
    /// Does nothing.
    public func didRead(_ tag: Tag, elements: Range<Int>, bytes: [UInt8]) {}
    /// Does nothing.
    public func didWrite(_ tag: Tag, elements: Range<Int>, bytes: [UInt8]) {}
}
