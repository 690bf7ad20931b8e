def execute_command(image):
    # Question: What color is the shape inside the square?
    # Answer with a color, or "N/A" if nothing is inside a square.
    image_patch = ImagePatch(image)
    for square_patch in image_patch.find("square"):
        if square_patch.width < 26:
            # too small to hold another shape
            continue
        # find() on the square's patch only looks inside its crop; the square itself
        # is found there too, so keep the boxes clearly smaller than it
        inner_patches = [p for p in square_patch.find("shape") if p.width < square_patch.width * 0.7]
        if len(inner_patches) > 0:
            return inner_patches[0].simple_query("What color is the shape?")
    return "N/A"
