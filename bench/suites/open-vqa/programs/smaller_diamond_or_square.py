def execute_command(image):
    # Question: Which is smaller, the diamond or the square?
    # Answer "diamond" or "square", or "N/A" if one of them is missing.
    image_patch = ImagePatch(image)
    diamond_patches = image_patch.find("diamond")
    square_patches = image_patch.find("square")
    if len(diamond_patches) == 0 or len(square_patches) == 0:
        return "N/A"
    diamond_patch = diamond_patches[0]
    square_patch = square_patches[0]
    # Ask the size class of each; if they differ that settles it
    diamond_size = diamond_patch.simple_query("What size is the diamond?")
    square_size = square_patch.simple_query("What size is the square?")
    if diamond_size != square_size:
        if diamond_size == "small":
            return "diamond"
        return "square"
    # Same size class: compare the longest sides of the boxes
    if max(diamond_patch.width, diamond_patch.height) < max(square_patch.width, square_patch.height):
        return "diamond"
    return "square"
