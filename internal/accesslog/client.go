package accesslog

import "bytes"

// ClientOf returns the identity of a client, a hash of its remote IP and
// user agent (0 when both are empty), and whether the agent is a
// crawler's. Records of one browser on one address share it; people
// behind one address with different browsers do not.
func ClientOf[T string | []byte](ip, agent T) (uint64, bool) {
	if len(ip) == 0 && len(agent) == 0 {
		return 0, false
	}
	return clientHash(HashPart(HashStart, agent), ip), IsCrawler(agent)
}

// clientHash continues agentHash, HashPart(HashStart, agent), with ip.
func clientHash[T string | []byte](agentHash uint64, ip T) uint64 {
	return HashEnd(HashPart(agentHash, ip))
}

// maxAgents bounds the parser's memory of which agents are crawlers'.
const maxAgents = 1 << 12

// client fills rec's ClientHash and Crawler from the line's ip and agent.
// Whether an agent is a crawler's is remembered by its hash: a log has
// far fewer agents than lines.
func (p *Parser) client(rec *Record, ip, agent []byte) {
	if len(ip) == 0 && len(agent) == 0 {
		return
	}
	ah := HashPart(HashStart, agent)
	rec.ClientHash = clientHash(ah, ip)
	crawler, ok := p.crawlers[ah]
	if !ok {
		if p.crawlers == nil || len(p.crawlers) >= maxAgents {
			p.crawlers = make(map[uint64]bool)
		}
		crawler = IsCrawler(agent)
		p.crawlers[ah] = crawler
	}
	rec.Crawler = crawler
}

// crawlerWords are what the user agents of crawlers, link previewers and
// archivers call themselves: Googlebot, bingbot, AhrefsBot, GPTBot,
// Baiduspider, Yahoo! Slurp, facebookexternalhit, ia_archiver, ...
var crawlerWords = []string{"bot", "crawl", "spider", "slurp", "facebookexternalhit", "archiver"}

// IsCrawler reports whether a user agent names itself a crawler (in its
// first 256 bytes, in any case). Such requests are not people's demand.
func IsCrawler[T string | []byte](agent T) bool {
	if len(agent) < 3 {
		return false
	}
	var buf [256]byte
	n := copy(buf[:], agent)
	lower := buf[:n]
	for i, c := range lower {
		if 'A' <= c && c <= 'Z' {
			lower[i] = c + 'a' - 'A'
		}
	}
	for _, w := range crawlerWords {
		if bytes.Contains(lower, []byte(w)) {
			return true
		}
	}
	return false
}
