"""Word lists the rules parser reasons with (lower-case).

Kept as plain sets so the parser stays a pure-Python, millisecond, model-free step.
They describe English, not any benchmark: verbs of editing, colours, materials,
art styles, scenes, and the function words that end a noun phrase.
"""
from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# ----------------------------------------------------------------------------- verbs
REMOVE_VERBS = (
    "remove|delete|erase|eliminate|get rid of|do away with|dispose of|take out|take away|take off|"
    "clear away|clear out|clear off|clear|wipe out|wipe away|wipe off|wipe|cut out|cut away|edit out|"
    "rub out|scrub out|scrub away|scrub|strip out|strip away|strip off|lose|ditch|drop|discard|banish|"
    "extract|pull out|crop out|clean up|clean away|clean off|omit|exclude|purge|zap|get out|"
    "airbrush out|photoshop out|paint out|blot out|remove away|leave out|take down|knock down|tear down|"
    "nix|chuck out|toss out|toss"
)
REPLACE_VERBS = "replace|substitute|swap out|swap|switch out|exchange|trade|interchange"
TRANSFORM_VERBS = (
    "turn|transform|convert|change|morph|switch|alter|modify|transmute|mutate|evolve|reimagine|re-imagine|"
    "redraw|re-draw|render|restyle|re-style|stylize|stylise|repaint|re-paint|recreate|redo|remake|rework|"
    "shift|reinterpret|remodel|redesign|edit|adjust|update|transfer|translate|make over|upgrade|downgrade"
)
COLOR_VERBS = (
    "recolor|recolour|re-color|re-colour|color|colour|dye|paint|tint|stain|spray-paint|spray paint|spray|bleach|"
    "shade|reskin|resurface|refinish|reupholster|upholster|lacquer|varnish|wrap|gold-plate|chrome-plate|plate|tile|"
    "wallpaper|carpet|texture|retexture"
)
ADJUST_VERBS = (
    "darken|lighten|brighten|dim|blur|sharpen|saturate|desaturate|soften|age|weather|rust|polish|gild|"
    "frost|glaze|defocus|illuminate|light up|warm up|cool down|texture|retexture|re-texture|fade|"
    "whiten|blacken|redden|yellow|enlarge|shrink|enhance|beautify|pixelate|pixelize|petrify|freeze|"
    "melt|wet|dirty|muddy|clean|fix|smooth out|smooth|roughen|crack|decorate|redecorate"
)
ADD_VERBS = (
    "add|insert|include|introduce|draw|sketch|create|generate|attach|hang|stick|plant|spawn|sprinkle|"
    "scatter|install|build|construct|show|display|depict|feature|throw in|pop in|pop|drop in|toss in|"
    "slip in|paste|superimpose|overlay|incorporate|bring in|put in|place in|add in|integrate|embed|"
    "render|paint|put|place|position|set|lay|rest|seat|stand|sit|perch|park|float|drop|bring|station|"
    "move|relocate|transport|teleport|transplant|situate|drag"
)
PLACEMENT_VERBS = _words(
    "put place position set lay rest seat stand sit perch park float drop bring station move relocate "
    "transport teleport transplant situate drag"
)
# verbs after "make/let/have X ..." that mean X gets a new object
ACTION_VERBS = _words(
    "wear wears wearing hold holds holding carry carries carrying ride rides riding have has get sport "
    "don eat eats drink drinks hug hugs play plays read reads use uses wave waves walk walks pet pets "
    "kick kicks throw throws climb climbs wield grab grabs take drive drives fly flies sip sips juggle "
    "smoke smokes feed feeds chase chases push pushes pull pulls lift lifts catch catches kiss kisses "
    "cuddle cuddles sing sings cook cooks paint paints write writes ride rides own owns"
)
DISAPPEAR_WORDS = (
    r"disappear|vanish|go away|be gone|gone|invisible|go|leave|be removed|removed|be deleted|deleted|"
    r"be erased|erased|be taken out|taken out|be eliminated|eliminated|fade away|fade out"
)
# a verb at the start of a clause (used to cut "... and make it seamless")
CLAUSE_VERBS = _words(
    "make blend keep fill replace restore ensure leave add put maintain let have change turn use adjust "
    "move fix clean match preserve show remove erase delete place insert include give paint color colour "
    "dye draw create generate render convert transform set apply ensuring making keeping maintaining "
    "leaving blending filling restoring preserving matching giving adding removing changing while "
    "seamlessly naturally then also so and"
)

# ----------------------------------------------------------------------------- noun phrase grammar
DETERMINERS = _words(
    "the a an this that these those my your his her its our their some any all every each both another "
    "other only just one two three four five six seven eight nine ten several many few more most "
    "no either whole entire certain various multiple numerous lone single"
)
INDEFINITE_STARTS = _words(
    "a an some another one two three four five six seven eight nine ten several many few couple "
    "multiple numerous more lots plenty dozen dozens pair group set bunch"
)
DEFINITE_STARTS = _words("the this that these those my your his her its our their it him them")
PRONOUNS = {"it": "object", "him": "person", "her": "person", "them": "objects", "he": "person",
            "she": "person", "they": "objects", "itself": "object", "himself": "person",
            "herself": "person", "themselves": "objects"}
PREPOSITIONS = _words(
    "in on at from near by with without under over above below behind beside besides between inside "
    "outside into onto across along around against toward towards through throughout among amid amidst "
    "within beneath underneath past like as for during except via upon atop about off up down to than "
    "alongside opposite beyond round"
)
NP_STOPWORDS = _words(
    "instead rather while whilst so because if when where which who whom whose that then but please "
    "is are was were be been being has have had should must will would could may might ought looks look "
    "seems seem appears appear there here now currently next close so-that and/or etc until before "
    "after unless whereas though although leaving keeping making ensuring maintaining blending giving "
    "creating adding using needs need out away"
)
PAST_PARTICIPLES = _words(
    "visible seen shown located situated positioned placed present available made worn held parked "
    "perched attached mounted covered filled surrounded tied hung displayed pictured depicted featured "
    "set kept left found seated lying dressed decorated painted colored coloured drawn built placed "
    "stationed sitting standing marked labeled labelled written printed floating shaped carved wrapped "
    "stacked piled arranged scattered lined framed sized clad draped tucked propped nestled curled strung slung"
)
# bare verbs that end a noun phrase ("have a bird sit on the fence")
BARE_VERBS = _words(
    "sit sits stand stands lie lies fly flies swim swims run runs walk walks sleep sleeps play plays hang "
    "hangs float floats perch perches appear appears wait waits jump jumps dance dances sing sings smile "
    "smiles eat eats drink drinks ride rides hold holds wear wears be go goes come comes stay stays peek "
    "peeks climb climbs lean leans kneel kneels crouch crouches graze grazes hover hovers become becomes "
    "remain remains gets get turn turns"
)
# "make the man smile": a change of expression or pose of the target
EXPRESSION_VERBS = _words(
    "smile laugh frown cry wink blink grin pout yawn sleep scowl blush squint sneeze shout scream sit stand "
    "kneel crouch jump dance pose bow wave lie sparkle shine glow glitter shimmer gleam twinkle blaze burn melt "
    "freeze bloom blossom wilt rust fade"
)
# -ing words that are nouns (never cut a noun phrase at them)
NOUN_ING = _words(
    "building buildings painting paintings drawing drawings clothing ceiling ceilings railing railings "
    "awning awnings frosting icing stuffing wedding ring rings king kings wing wings swing swings string "
    "strings sling spring springs evening morning lighting siding flooring carpeting fencing decking wiring "
    "piping bedding pudding dumpling sapling seedling duckling earring earrings etching landing opening "
    "dwelling housing clearing crossing setting settings sibling stocking stockings leggings topping "
    "filling heading coating lining trimming molding moulding paneling panelling ping thing things "
    "something nothing everything anything ceiling offering sing sting wring bling darling herring "
    "pudding shilling viking vikings cling outing ming ding lightning icing sibling siblings mooring "
    "timing seating footing planking tubing cladding shelving roofing tiling plating binding marking "
    "markings bearing bearings packaging wrapping covering coverings hangings carving carvings engraving "
    "sculpting recording"
)
# -ing words that usually modify the following noun ("dining table", "fishing boat")
MODIFIER_ING = _words(
    "dining living swimming parking sleeping washing ironing fishing sewing shopping rocking running "
    "racing cutting frying baking mixing boxing climbing diving skating walking drinking writing reading "
    "cooking waiting changing dressing sitting standing hiking sailing folding spinning"
)
# "a person ice skating": the noun before the gerund belongs to the activity
GERUND_COMPOUND_NOUNS = _words(
    "ice roller rock horse horseback water sky snow wind kite scuba mountain bird window people sun "
    "whale bungee figure bull deep-sea trail street speed pole line"
)
COLLECTIVES = _words(
    "group groups set sets couple family families herd herds flock flocks crowd crowds school "
    "trace traces sign signs hint remnants remains evidence "
    "pack packs swarm swarms number lot lots handful line lines cluster clusters "
    "collection few dozen dozens variety range series army troop troop fleet gang band bevy colony "
    "litter pod team plenty array assortment selection"
)
PORTIONS = _words(
    "pair pairs cup cups glass glasses bowl bowls plate plates slice slices piece pieces bottle bottles jar jars box "
    "boxes bag bags basket baskets bouquet bouquets vase vases loaf loaves bar bars "
    "can cans pot pots mug mugs tray trays bucket buckets sheet sheets roll rolls ball balls "
    "scoop scoops spoonful statue statues picture pictures painting paintings photo photos poster posters "
    "portrait portraits model models sculpture sculptures drawing drawings figurine figurines cone cones "
    "carton cartons crate crates sack sacks pitcher jug jugs teapot kettle wreath wreaths string strings "
    "chain chains bundle bundles stick sticks wedge wedges bar plateful bowlful cupful glassful map maps "
    # the lead's convention (session 16): a stack, pile, heap, bunch or row keeps its head like "cup of coffee"
    "stack stacks pile piles heap heaps bunch bunches row rows"
)
# nouns naming an attribute of something ("the car's colour", "the colour of the car")
ATTRIBUTE_NOUNS = _words(
    "color colour colors colours coloring colouring shade shades tone tones hue hues tint finish texture "
    "textures surface pattern patterns material materials appearance look looks style paint paintwork "
    "season weather lighting exterior outside sheen gloss glow print design shape shading palette "
    "complexion vibe feel aesthetic coating expression expressions pose posture size age length mood emotion time"
)
# attribute nouns that are also concrete parts: keep them when they are all that's left
CONCRETE_ATTRIBUTE_NOUNS = _words("fabric print coating")

# ----------------------------------------------------------------------------- adjectives & attributes
COLOURS = _words(
    "red blue green yellow orange purple pink black white gray grey brown beige cyan magenta teal turquoise "
    "navy maroon violet indigo lavender lilac gold golden silver bronze copper crimson scarlet burgundy "
    "emerald olive lime mint aqua azure cobalt sapphire ruby amber ivory cream tan khaki charcoal coral "
    "peach salmon mustard rust blond blonde brunette auburn ginger platinum pastel neon rainbow "
    "multicolored multicoloured multi-colored colorful colourful monochrome monochromatic sepia fuchsia "
    "plum mauve taupe ochre vermilion cerulean periwinkle chartreuse jade pearl onyx ebony off-white "
    "snow-white jet-black pitch-black rose rosy bluish reddish greenish yellowish pinkish purplish "
    "brownish greyish grayish blackish whitish orangey rainbow-colored rainbow-coloured grayscale "
    "greyscale black-and-white b&w sky-blue navy-blue blood-red cherry cherry-red wine lemon sand sandy "
    "royal-blue midnight-blue hot-pink lime-green forest-green emerald-green baby-blue powder-blue "
    "tangerine chestnut caramel honey bronzed sunlit tricolor two-tone hazel"
)
MATERIALS = _words(
    "wood wooden metal metallic steel iron gold golden silver bronze copper brass chrome chromed aluminum "
    "aluminium tin glass crystal diamond marble granite stone concrete brick bricks clay ceramic porcelain "
    "plastic rubber leather suede denim velvet silk silky satin linen cotton wool woolen woollen knit "
    "knitted lace lacy fur furry felt fabric paper cardboard ice icy chocolate candy jelly lava fire neon "
    "jade pearl obsidian bamboo wicker rattan straw cork tile tiles tiled terracotta plush gummy slime "
    "gemstone gemstones sandstone slate limestone oak pine mahogany walnut ebony cedar teak birch "
    "corduroy tweed cashmere nylon polyester vinyl latex canvas burlap sequin sequined beaded feathered "
    "glitter gilded chrome carbon fiberglass resin wax waxy stainless moss"
)
TEXTURES = _words(
    "smooth smoother rough rougher glossy glossier shiny shinier matte matt polished brushed textured "
    "bumpy fluffy fluffier fuzzy fuzzier soft softer hard harder wet wetter dry drier frozen frosted "
    "frosty dusty dirty dirtier clean cleaner muddy rusty rusted weathered worn old older new newer aged "
    "ancient cracked broken damaged torn wrinkled sparkly sparkling glittery glitter iridescent "
    "holographic transparent translucent opaque reflective mirrored mirror-like striped stripes stripy "
    "spotted spots spotty dotted dots dot polka plaid checkered checked checkerboard tartan paisley floral "
    "camouflage camo leopard-print zebra-print print printed pattern patterned glowing luminous "
    "fluorescent pale paler dark darker darkest light lighter lightest bright brighter brightest vivid "
    "vibrant saturated desaturated muted faded deep deeper warm warmer cool cooler solid gradient ombre "
    "curly curlier straight wavy long longer short shorter bald tall taller big bigger small smaller large "
    "larger tiny huge thick thicker thin thinner younger happy happier sad sadder angry smiling surprised "
    "scary cute elegant fancy rustic sleek rainbow-striped geometric chevron herringbone houndstooth "
    "quilted embroidered studded spiky shaggy silky velvety grainy blurry blurred sharp sharper crisp "
    "crisper hazy dim dimmer bold bolder subtle glossy lustrous pristine spotless stained scratched dented "
    "chipped peeling tarnished patina distressed burnt charred scorched moldy mouldy overgrown mossy "
    "snowy snow-covered leafy bare blooming blossoming withered wilted dead alive lush dense sparse "
    "fresh ripe rotten juicy healthy green-tinted frozen melted melting glowing-red fiery flaming "
    "illuminated lit unlit glowing-blue electric sparkly heavy lighter-colored darker-colored "
    "thin-striped wide-striped two-toned tie-dye tie-dyed marbled speckled freckled mottled veined"
)
ATTRIBUTE_FILLERS = _words(
    "color colour colors colours shade shades tone hue tint finish texture surface pattern appearance "
    "look paint paintwork coat one ones version variant design effect sheen gloss glow palette "
    "and or very slightly completely totally entirely fully bit little more less much somewhat extremely "
    "super really quite pure mostly all-over overall solid nice beautiful lovely gorgeous subtle of a an "
    "the shade-of made out from instead same different new paint-job job"
)
INTENSIFIERS = _words(
    "very slightly completely totally entirely fully bit little more less much somewhat extremely super "
    "really quite pure mostly a-bit lightly heavily strongly gently faintly barely"
)
DESCRIPTIVE = _words(
    "lush arid rocky sunny cloudy grassy sandy snowy icy dusty leafy tropical urban rural industrial "
    "modern vintage retro antique futuristic ancient medieval victorian classic traditional rustic "
    "cozy cosy busy bustling quiet peaceful serene calm wild dense sparse vast narrow wide open empty "
    "crowded beautiful pretty ugly cute adorable elegant fancy simple plain ornate decorative giant "
    "gigantic enormous massive miniature mini little wooden small large big tiny huge tall short long "
    "round square rectangular circular oval flat steep curved twisted straight broken cracked damaged "
    "shiny dull colorful colourful bright dark pale deep light soft hard smooth rough fresh old new young "
    "happy sad angry scared surprised cheerful grumpy sleepy fluffy furry hairy scaly spotted striped "
    "majestic graceful charming lively playful friendly fierce wild domestic stray baby adult elderly "
    "distant nearby central main entire whole overall background foreground left right upper lower "
    "inner outer front back rear side top bottom middle green blue red white black yellow brown gray grey "
    "orange pink purple golden silver metallic glass crystal marble stone brick concrete plastic leather "
    "velvet silk wool cotton denim paper rubber steel iron copper bronze brass tin glossy matte "
    "transparent translucent vibrant vivid muted faded warm cool cold hot icy frozen wet dry famous "
    "lone single extra spare blank solid thick thin heavy light dim blurry blurred sharp"
)

ATTRIBUTE_WORDS = COLOURS | MATERIALS | TEXTURES | INTENSIFIERS
# materials that are also countable objects with an article ("a glass", "a marble", "a diamond")
COUNTABLE_MATERIALS = _words("glass crystal diamond marble stone brick tile fire pearl gemstone feather")

# ----------------------------------------------------------------------------- scenes and time
ENV_NOUNS = _words(
    "background backgrounds backdrop backdrops setting settings scenery environment environments "
    "surroundings surrounding landscape landscapes cityscape seascape skyline sky skies forest forests "
    "woods woodland jungle rainforest beach beaches shore shoreline coast coastline desert dunes ocean "
    "sea lake river pond water waves mountain mountains hill hills hillside valley canyon cliff cliffs "
    "field fields meadow meadows prairie grassland savanna savannah tundra garden gardens park lawn grass "
    "yard backyard snow street streets road roads path city town village room interior wall walls floor "
    "floors ground terrain island space sunset sunrise horizon foliage trees vegetation greenery leaves "
    "racetrack track site countryside wilderness outdoors surface scene bay harbor harbour marsh swamp "
    "glacier volcano cave plain plains orchard vineyard farm farmland courtyard plaza square alley "
    "trail trails riverbank riverside lakeside seaside seashore hilltop mountaintop cliffside sidewalk highway "
    "boardwalk "
    "wallpaper carpet backyard patio setting weather atmosphere"
)
# nouns that make an added thing a background change ("add a sunset in the background")
ADDED_SCENE_NOUNS = _words(
    "background backdrop setting scenery landscape cityscape environment surroundings sunset sunrise "
    "garden snow rain fog mist haze weather atmosphere skyline"
)
# Places an object can be put, moved or set in ("a train station", "a quiet library", "a bamboo grove"): only as
# the destination of a move (or scenery shown behind an object) are they a new setting; named as the object of an
# edit ("replace the cathedral with ...") they stay objects, so they are not ENV_NOUNS.
PLACE_NOUNS = _words(
    "station library arcade grove range ranges rooftop rooftops market bazaar mall stadium "
    "arena airport classroom bedroom kitchen office cafe café restaurant museum gallery church cathedral temple "
    "shrine palace ballroom hallway corridor lobby attic basement cellar warehouse factory studio theater theatre "
    "subway metro platform pier dock docks port marina harbourfront waterfront promenade oasis lagoon reef "
    "underwater seabed seafloor rainforest cavern crater ruins castle-grounds battlefield campsite campground "
    "playground schoolyard rooftop-terrace terrace balcony greenhouse barnyard pasture ranch cornfield wheatfield "
    "tundra steppe badlands junkyard graveyard cemetery neighborhood neighbourhood downtown suburb "
    "skyscrapers metropolis megacity slum alleyway laneway backstreet parking-lot library bookstore supermarket"
)
SCENE_HEADS = _words(
    "setting settings background backdrop scenery environment surroundings landscape cityscape seascape "
    "skyline scene location vista panorama view atmosphere place"
)
SEASON_TIME_WEATHER = _words(
    "spring summer autumn fall winter wintertime summertime springtime autumnal wintry wintery night "
    "nighttime night-time midnight evening dusk dawn sunrise sunset twilight daytime day daylight noon "
    "morning afternoon golden-hour rain rainy raining storm stormy thunderstorm fog foggy mist misty "
    "haze hazy cloudy overcast sunny windy snow snowing snowfall blizzard weather moonlight moonlit starry "
    "nightfall sundown"
)
WHOLE_IMAGE_NOUNS = _words(
    "image images picture pictures photo photos photograph photographs pic pics shot shots frame scene "
    "everything thing all composition artwork view it this that whole overall everything shot snapshot "
    "selfie capture rendering output result canvas"
)

# ----------------------------------------------------------------------------- styles
STYLE_WORDS = _words(
    "style styles styled stylized stylised painting painted drawing drawn sketch sketched sketchy "
    "watercolor watercolour watercolors aquarelle oil impasto acrylic pastel charcoal pencil graphite "
    "ink crayon pixel pixelated pixel-art 8-bit 16-bit anime manga cartoon cartoonish cartoony comic "
    "comics comic-book pop-art impressionist impressionism impressionistic expressionist expressionism "
    "cubist cubism surrealist surrealism surreal nouveau deco baroque renaissance rococo ukiyo-e "
    "woodblock woodcut engraving etching lithograph mosaic stained-glass graffiti mural low-poly "
    "polygonal render rendered 3d 3-d claymation clay-animation origami papercraft paper-cut papercut "
    "lego voxel vaporwave synthwave cyberpunk steampunk dieselpunk noir sepia polaroid retro vintage "
    "monochrome grayscale greyscale halftone cel-shaded cel vector lineart line-art doodle chalk "
    "blueprint cross-stitch embroidery embroidered tapestry needlepoint fresco gouache tempera "
    "pointillism pointillist minimalist minimalism abstract psychedelic gothic fantasy concept-art "
    "illustration illustrated storybook cinematic filmic film photorealistic photorealism hyperrealistic "
    "realistic painterly hand-drawn handdrawn hand-painted art artistic artwork aesthetic aesthetics "
    "filter effect look vibe ghibli pixar disney dreamworks caricature chibi kawaii sumi-e ink-wash "
    "calligraphy pop neon-noir technicolor daguerreotype tintype cyanotype infrared thermal x-ray negative "
    "inverted posterized posterised solarized duotone risograph screenprint screen-print linocut "
    "stencil silhouette silhouetted sketchbook storyboard cutout collage felt-tip marker biro "
    "pen-and-ink heliography glitch glitchy vhs lomo lomography tilt-shift hdr bokeh grainy "
    "old-fashioned futurist futurism art-deco art-nouveau bauhaus dadaist dada fauvism fauvist "
    "rembrandt-like clay plasticine stop-motion diorama miniature-faked mosaic-tile postcard poster "
    "vintage-photograph woodblock-print pencil-sketch charcoal-drawing oil-painting watercolor-wash"
)
# artists and studios whose names denote a style
ARTISTS = (
    "van gogh|vangogh|monet|picasso|dali|dalí|rembrandt|klimt|hokusai|warhol|da vinci|leonardo|vermeer|"
    "kandinsky|munch|matisse|cezanne|cézanne|pollock|magritte|basquiat|banksy|mondrian|seurat|renoir|"
    "turner|frida kahlo|kahlo|michelangelo|caravaggio|edward hopper|hopper|o'keeffe|lichtenstein|escher|"
    "miyazaki|studio ghibli|ghibli|tim burton|wes anderson|pixar|disney|dreamworks|gauguin|degas|"
    "manet|botticelli|raphael|goya|el greco|rubens|titian|bosch|bruegel|chagall|miro|miró|rothko|"
    "hockney|haring|keith haring|mucha|alphonse mucha|beksinski|giger|moebius|norman rockwell|rockwell|"
    "bob ross|ansel adams|annie leibovitz|hiroshige|utamaro|tolkien|lovecraft|cezanne|whistler|"
    "toulouse-lautrec|modigliani|schiele|egon schiele|hundertwasser|kusama|yayoi kusama|dr seuss|"
    "studio trigger|makoto shinkai|shinkai|akira|tezuka|marvel|dc comics|simpsons|south park|minecraft|"
    "roblox|fortnite|zelda|pokemon|pokémon|spider-verse|arcane"
)
# strong style cues: the result is a style, not an object, even without a whole-image target
STRONG_STYLE_WORDS = STYLE_WORDS - _words(
    "film filter effect look vibe aesthetic aesthetics art artwork artistic pop retro vintage fantasy "
    "abstract gothic realistic negative thermal poster postcard clay diorama illustration storybook "
    "painting drawing sketch render rendered cel pixel neon oil ink marker pencil chalk crayon mosaic "
    "collage cutout silhouette minimalist minimalism cinematic"
)
# nouns that name an effect to apply rather than an object to add ("add a sepia filter")
EFFECT_NOUNS = _words(
    "filter effect effects tint glow look style aesthetic vibe feel finish texture pattern shine gloss "
    "sparkle blur grain vignette hue color colour colours colors tone tones palette lighting mood "
    "makeover treatment overlay paint paint-job job coat sheen shading gradient patina theme atmosphere"
)
STYLE_REFERENCE_NOUNS = "image|picture|photo|photograph|painting|artwork|pic|example|sample|one|art|illustration|drawing|reference|upload|file"

# ----------------------------------------------------------------------------- coarse categories for contour compatibility
CATEGORY_OF: dict[str, str] = {}
for _category, _members in {
    "animal": "dog dogs puppy puppies cat cats kitten kittens lion lions tiger tigers horse horses zebra "
    "zebras cow cows sheep goat goats deer rabbit rabbits bunny fox foxes wolf wolves bear bears bird birds "
    "eagle parrot pigeon duck ducks owl owls penguin chicken hen rooster swan goose squirrel mouse rat "
    "hamster monkey ape gorilla elephant giraffe camel llama alpaca pig pigs panda koala kangaroo "
    "leopard cheetah jaguar husky retriever poodle frog toad turtle tortoise snake lizard crocodile "
    "alligator dolphin whale shark fish goldfish butterfly bee unicorn dragon dinosaur moose reindeer "
    "donkey mule ox buffalo bison otter raccoon hedgehog seal walrus polar lamb calf cub",
    "person": "man men woman women boy boys girl girls child children kid kids person people human humans "
    "baby toddler lady gentleman guy teenager teen adult elder elderly grandmother grandfather "
    "bartender singer priest chef doctor nurse soldier policeman firefighter farmer fisherman "
    "astronaut knight king queen prince princess student teacher athlete player dancer model "
    "mannequin scarecrow snowman statue robot clown pirate wizard witch cowboy worker hiker skier "
    "surfer rider cyclist runner",
    "vehicle": "car cars truck trucks bus buses tram trams trolley streetcar train bicycle bike bicycles "
    "motorcycle motorbike scooter van vans taxi sedan jeep suv pickup tractor ambulance limousine "
    "carriage wagon cart skateboard boat boats ship ships yacht sailboat canoe kayak helicopter "
    "airplane plane jet rocket spaceship submarine hovercraft caravan camper rv tank convertible "
    "coupe minivan hatchback snowmobile atv quad sled sleigh",
    "building": "house houses building buildings cabin cottage castle tower church cathedral temple "
    "barn shed hut tent yurt skyscraper lighthouse windmill palace mansion villa bungalow chalet "
    "treehouse igloo pagoda mosque chapel factory warehouse",
    "plant": "tree trees flower flowers plant plants cactus bush shrub sunflower rose roses tulip tulips "
    "fern palm bonsai mushroom",
    "furniture": "chair chairs sofa couch armchair bench table desk bed bunk stool bookshelf shelf "
    "cabinet dresser wardrobe hammock ottoman recliner beanbag",
    "container": "cup mug teacup glass bowl vase bottle jar pot teapot kettle bucket basket box",
}.items():
    for _word in _members.split():
        CATEGORY_OF.setdefault(_word, _category)

# best-effort verbs for non-English instructions (type guess only, low confidence)
FOREIGN_TYPE_CUES: tuple[tuple[str, int], ...] = (
    (r"\b(?:elimina|quita|borra|supprime|enl[eè]ve|retire|efface|entferne|l[öo]sche|rimuovi|cancella|"
     r"remova|apague|verwijder|usu[nń])", 5),
    (r"\b(?:reemplaza|sustituye|remplace|ersetze|tausche|sostituisci|substitua|substitui|vervang)", 0),
    (r"\b(?:a[ñn]ade|agrega|ajoute|f[üu]ge|hinzu|aggiungi|adicione|adiciona|voeg)", 1),
    (r"\b(?:estilo|style de|im stil|stile|in de stijl)", 3),
    (r"(?:删除|去掉|移除|消除|削除|消して|삭제|제거)", 5),
    (r"(?:添加|加上|增加|追加|加える|추가)", 1),
    (r"(?:替换|换成|置き換え|교체)", 0),
    (r"(?:风格|風格|スタイル|스타일)", 3),
)

# ----------------------------------------------------------------------------- outline groups for contour compatibility
# Objects in one group have about the same outline, so a replacement keeps the old segment as its mask
# (a dog becoming a cat). Across groups (a cat becoming a giraffe) the masker uses a grown box instead.
SHAPE_OF: dict[str, str] = {}
for _shape, _members in {
    "small quadruped": "dog dogs puppy puppies cat cats kitten kittens fox foxes rabbit rabbits bunny raccoon "
    "squirrel hedgehog wolf wolves husky retriever poodle lamb cub pig pigs goat goats sheep panda koala otter "
    "badger beaver lion lions tiger tigers leopard cheetah jaguar bear bears corgi beagle pug terrier bulldog "
    "dachshund labrador chihuahua collie shepherd spaniel shiba dalmatian greyhound",
    "large quadruped": "horse horses cow cows zebra zebras donkey mule ox buffalo bison deer moose reindeer "
    "camel llama alpaca calf unicorn elk",
    "bird": "bird birds eagle parrot pigeon duck ducks owl owls chicken hen rooster swan goose seagull crow "
    "robin sparrow flamingo penguin",
    "person": "man men woman women boy boys girl girls child children kid kids person people human lady "
    "gentleman guy teenager adult elder grandmother grandfather chef doctor nurse soldier farmer astronaut "
    "knight king queen prince princess student teacher athlete dancer mannequin statue robot clown pirate "
    "wizard witch cowboy worker hiker surfer",
    "car": "car cars truck trucks van vans taxi sedan jeep suv pickup ambulance limousine minivan hatchback "
    "coupe convertible tractor",
    "two-wheeler": "bicycle bike bicycles motorcycle motorbike scooter",
    "boat": "boat boats ship yacht sailboat canoe kayak",
    "cup": "cup mug teacup glass tumbler",
    "bottle": "bottle vase jar pitcher jug",
    "seat": "chair armchair stool",
    "sofa": "sofa couch bench",
    "round fruit": "apple orange lemon peach plum lime tomato ball",
    "small house": "house cabin cottage hut shed barn bungalow chalet",
    "tree": "tree trees oak pine palm",
    "flower": "flower rose tulip sunflower daisy lily",
}.items():
    for _word in _members.split():
        SHAPE_OF.setdefault(_word, _shape)

# people, animals and figures that wear or hold things ("give the snowman a red scarf" adds a scarf), beyond the
# person and animal outline groups above
FIGURES = _words(
    "snowman snowmen scarecrow scarecrows doll dolls puppet figurine runner runners cyclist cyclists jogger skier "
    "skater swimmer tourist tourists baby babies toddler bride groom player players musician singer rider "
    "passenger customer waiter waitress police policeman firefighter mermaid fairy elf angel zombie ghost alien"
)
