package mdnotion

import (
	"bytes"
	"net/url"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/yuin/goldmark/ast"
	extast "github.com/yuin/goldmark/extension/ast"

	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// imageTypes are the extensions of the image types Notion documents for
// image blocks.
var imageTypes = map[string]bool{
	".bmp": true, ".gif": true, ".heic": true, ".ico": true, ".jpeg": true, ".jpg": true,
	".png": true, ".svg": true, ".tif": true, ".tiff": true, ".webp": true,
}

// imageURL reports whether an image at u becomes an image block: an
// absolute http(s) URL without blanks, within Notion's length limit, whose
// path names an image type Notion documents. Notion has refused external image URLs that
// name no file type ("Invalid image url"), failing the whole request, and
// documents no rule, so only these are converted. Any other image stays a
// link: the API cannot upload a local or relative file.
func imageURL(u string) bool {
	if utf8.RuneCountInString(u) > notion.MaxURLLength || strings.ContainsFunc(u, unicode.IsSpace) {
		return false
	}
	p, err := url.Parse(u)
	if err != nil || p.Host == "" || (p.Scheme != "http" && p.Scheme != "https") {
		return false
	}
	return imageTypes[strings.ToLower(path.Ext(p.Path))]
}

// image converts a paragraph holding nothing but an image (after a to-do's
// box) to an image block with the alt text as caption. It declines an image
// whose URL [imageURL] refuses or whose alt text has a link or a line break,
// which a caption in Markdown cannot hold.
func (c converter) image(p ast.Node) (notion.Block, bool) {
	img := c.aloneImage(p)
	if img == nil {
		return notion.Block{}, false
	}
	u := unescape(img.Destination)
	caption := c.inline(img)
	if !imageURL(u) || !captionFits(caption) {
		return notion.Block{}, false
	}
	return notion.ImageBlock(u, caption), true
}

func (c converter) isImage(p ast.Node) bool {
	_, ok := c.image(p)
	return ok
}

// aloneImage returns the image a paragraph holds alone, or nil.
func (c converter) aloneImage(p ast.Node) *ast.Image {
	var img *ast.Image
	for ch := p.FirstChild(); ch != nil; ch = ch.NextSibling() {
		switch ch := ch.(type) {
		case *extast.TaskCheckBox:
		case *ast.Text:
			if len(bytes.TrimSpace(ch.Segment.Value(c.src))) > 0 {
				return nil
			}
		case *ast.Image:
			if img != nil {
				return nil
			}
			img = ch
		default:
			return nil
		}
	}
	return img
}

// captionFits reports whether rich text reads back the same as an image's
// alt text: no links, mentions or line breaks, within Notion's 100
// elements.
func captionFits(rts []notion.RichText) bool {
	if len(rts) > notion.MaxChildren || !inlineText(rts) {
		return false
	}
	for _, rt := range rts {
		if rt.URL() != "" {
			return false
		}
	}
	return true
}

// imageExpressible reports whether an image reads back the same from
// Markdown: an external image at a URL [imageURL] takes, with a caption
// Markdown's alt text holds.
func imageExpressible(b notion.Block) bool {
	img, ok := b.ImageContent()
	return ok && len(b.Children) == 0 && img.Type == "external" && img.External != nil &&
		imageURL(img.External.URL) && captionFits(img.Caption)
}

// renderImage renders an image as ![caption](url), the caption without its
// outer blanks.
func (rn renderer) renderImage(b notion.Block) string {
	img, _ := b.ImageContent()
	return "![" + rn.renderInlineAt(trimText(img.Caption), false) + "](" + destination(img.External.URL) + ")"
}
